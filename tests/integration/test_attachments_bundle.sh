#!/usr/bin/env bash
# Attachment bundles (issue 12, publisher/bundle.h, docs/attachments.md): a published
# collection whose metadata has attachment.bundle: true gets
# {base_url}bundles/<bid>--<cid>.zip on the read server, in Remote Settings' layout
# ("<id>.meta.json" + "<id>" per record with an attachment), every file's bytes those
# of the signed record's hash and size; removing an attachment rebuilds it; removing
# the last one, turning the flag off or unpublishing removes it (404); a collection
# without the flag never has one; a read server with its own directory does not serve
# bundles (it cannot verify them: 404, clients download files one by one).
source "$(dirname "$0")/../support/harness.sh"

h_start_redis
h_keygen
FILES=$H_TMP/files
export HERALD_ATTACHMENTS_DIR=$FILES HERALD_ATTACHMENT_BUNDLE_POLL_MS=100
h_start_publisher
h_start_signer
h_start_server --attachments-dir "$FILES"
S1=${H_SRV%/v1}/attachments
h_start_second_server --attachments-dir "$H_TMP/files2" --attachment-origin "$S1/"
S2=${H_SRV2%/v1}/attachments
A=$H_AUTH
CHECK=$H_SRC/tests/support/check_bundle.py
json() { curl -sf -u "$A" -X "$1" -H 'Content-Type: application/json' --data "$3" "$H_PUB$2" >/dev/null; }
up() { curl -sf -o /dev/null -u "$A" -F "attachment=@$1" "$H_PUB/buckets/b/collections/$2/records/$3/attachment"; }
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

json PUT /buckets/b '{"permissions":{"read":["system.Everyone"]}}'
json PUT /buckets/b/collections/c '{"data":{"attachment":{"enabled":true,"bundle":true}}}'
json PUT /buckets/b/collections/nob '{"data":{"attachment":{"enabled":true}}}'
for i in 1 2 3; do
    head -c $((i * 50000)) /dev/urandom >"$H_TMP/f$i.bin"
    up "$H_TMP/f$i.bin" c r$i
done
printf 'hello' >"$H_TMP/small.txt"
up "$H_TMP/small.txt" nob r1
json PUT /buckets/b/collections/c/records/plain '{"data":{"title":"no attachment"}}'

# The bundle of the served version, checked against the served changeset.
# served_ids: the record ids with attachments in the changeset the server serves.
served() { curl -sf "$H_SRV/buckets/b/collections/c/changeset?_expected=0" >"$H_TMP/cs"; }
bundle_is() { # bundle_is "IDS": the bundle's ids are IDS and it checks out
    served && curl -sf -o "$H_TMP/b.zip" "$S1/bundles/b--c.zip" &&
        [ "$(python3 "$CHECK" "$H_TMP/b.zip" "$H_TMP/cs" 2>/dev/null)" = "$1" ]
}
h_check "the bundle holds r1 r2 r3 as signed" h_wait_for 20 bundle_is "r1 r2 r3"
python3 "$CHECK" "$H_TMP/b.zip" "$H_TMP/cs" || true
h_check "the bundle is a zip with 6 members" \
    h_eq "$(python3 -c 'import sys,zipfile; print(len(zipfile.ZipFile(sys.argv[1]).namelist()))' "$H_TMP/b.zip")" 6
h_check "the bundle file is in attachments_dir/bundles/" test -f "$FILES/bundles/b--c.zip"
h_check "served as application/zip" \
    h_eq "$(curl -s -o /dev/null -w '%{content_type}' "$S1/bundles/b--c.zip")" application/zip
ETAG=$(curl -sI "$S1/bundles/b--c.zip" | tr -d '\r' | sed -n 's/^ETag: //ip')
h_check "a bundle has an ETag" test -n "$ETAG"
h_check "If-None-Match: 304" h_eq "$(code -H "If-None-Match: $ETAG" "$S1/bundles/b--c.zip")" 304
h_check "not cached forever (it changes)" sh -c "curl -sI '$S1/bundles/b--c.zip' | grep -qi '^Cache-Control: public, max-age=3600'"
h_check "Range: 206" h_eq "$(code -H 'Range: bytes=0-3' "$S1/bundles/b--c.zip")" 206
h_check "a collection without bundle: true has no bundle (404)" h_eq "$(code "$S1/bundles/b--nob.zip")" 404
h_check "... and no file" test ! -e "$FILES/bundles/b--nob.zip"
h_check "a read server with its own directory serves no bundle (404)" h_eq "$(code "$S2/bundles/b--c.zip")" 404
h_check "no path outside bundles/" h_eq "$(code --path-as-is "$S1/bundles/../tmp/x.zip")" 404
h_check "no temporary file" h_eq "$(code "$S1/bundles/.build-1.zip")" 404
h_check "a missing collection: 404" h_eq "$(code "$S1/bundles/b--zz.zip")" 404

# Removing an attachment rebuilds it; the old URL keeps working meanwhile.
curl -sf -o /dev/null -u "$A" -X DELETE "$H_PUB/buckets/b/collections/c/records/r2/attachment"
h_check "removing r2's attachment rebuilds the bundle without it" h_wait_for 20 bundle_is "r1 r3"
ETAG2=$(curl -sI "$S1/bundles/b--c.zip" | tr -d '\r' | sed -n 's/^ETag: //ip')
h_check "the rebuilt bundle has another ETag" test "$ETAG" != "$ETAG2"
# A record change that keeps the attachment rebuilds it too (the .meta.json changes).
json PATCH /buckets/b/collections/c/records/r1 '{"data":{"title":"renamed"}}'
# (The bundle from before the change holds r1 r3 too: wait for the new title in it.)
renamed() { bundle_is "r1 r3" && unzip -p "$H_TMP/b.zip" r1.meta.json | grep -q renamed; }
h_check "a changed record's meta.json is rebuilt, and names the new title" h_wait_for 20 renamed
# Replacing a file.
up "$H_TMP/f2.bin" c r3
h_check "a replaced file is in the rebuilt bundle" h_wait_for 20 bundle_is "r1 r3"

# Turning the flag off removes it; on again rebuilds it.
json PATCH /buckets/b/collections/c '{"data":{"attachment":{"enabled":true,"bundle":false}}}'
h_check "bundle: false removes the bundle (404)" h_wait_for 20 sh -c "[ \$(curl -s -o /dev/null -w '%{http_code}' '$S1/bundles/b--c.zip') = 404 ]"
json PATCH /buckets/b/collections/c '{"data":{"attachment":{"enabled":true,"bundle":true}}}'
h_check "bundle: true again rebuilds it" h_wait_for 20 bundle_is "r1 r3"

# No attachment left: no bundle.
for r in r1 r3; do
    curl -sf -o /dev/null -u "$A" -X DELETE "$H_PUB/buckets/b/collections/c/records/$r/attachment"
done
h_check "no attachment left: no bundle (404)" h_wait_for 20 sh -c "[ \$(curl -s -o /dev/null -w '%{http_code}' '$S1/bundles/b--c.zip') = 404 ]"
h_check "... and no file" test ! -e "$FILES/bundles/b--c.zip"

# Unpublishing removes it.
up "$H_TMP/f1.bin" c r1
h_check "a new attachment brings it back" h_wait_for 20 bundle_is "r1"
json PUT /buckets/b '{"permissions":{"read":[]}}'
h_check "an unpublished collection loses its bundle" h_wait_for 20 test ! -e "$FILES/bundles/b--c.zip"
h_check "no temporary file left in bundles/" h_eq "$(ls -A "$FILES/bundles" | grep -c '^\.build' || true)" 0
h_check "metrics: bundles" sh -c "curl -s '${H_PUB%/v1}/metrics' | grep -q '^herald_attachment_bundle_builds_total [1-9]'"
h_finish
