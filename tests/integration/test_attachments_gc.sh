#!/usr/bin/env bash
# Attachment garbage collection (issue 12, publisher/attachment_gc.h) with a short grace
# period: a replaced file is kept through the grace period and deleted after it; a file
# referenced by any record (here two collections share one) is never deleted; uploads
# racing the passes (the same content orphaned and uploaded again, a pass every second)
# never leave a record naming a missing file; the metrics count files and orphans.
source "$(dirname "$0")/../support/harness.sh"

h_start_redis
FILES=$H_TMP/files
export HERALD_ATTACHMENTS_DIR=$FILES HERALD_ATTACHMENT_GC_GRACE_SECONDS=4 \
    HERALD_ATTACHMENT_GC_INTERVAL_SECONDS=1
h_start_publisher
A=$H_AUTH
sha() { sha256sum "$1" | cut -d' ' -f1; }
f() { local h; h=$(sha "$1"); echo "$FILES/${h:0:2}/$h"; }
up() { curl -sf -o /dev/null -u "$A" -F "attachment=@$1" "$H_PUB/buckets/b/collections/$2/records/$3/attachment"; }
for c in c d; do
    curl -sf -u "$A" -X PUT "$H_PUB/buckets/b" -o /dev/null
    curl -sf -u "$A" -X PUT "$H_PUB/buckets/b/collections/$c" -o /dev/null
done
for n in a b s c1 c2; do head -c 3000 /dev/urandom >"$H_TMP/$n.bin"; done

up "$H_TMP/a.bin;type=application/x-a" c r1
up "$H_TMP/s.bin" c shared
up "$H_TMP/s.bin" d shared
up "$H_TMP/b.bin;type=application/x-b" c r1 # a.bin is no longer referenced
curl -sf -u "$A" -X DELETE "$H_PUB/buckets/b/collections/c/records/shared" -o /dev/null
h_check "metrics: an orphan pending" h_wait_for 5 sh -c "curl -s '${H_PUB%/v1}/metrics' | grep -q '^herald_attachment_orphans_pending [1-9]'"
sleep 1.5
h_check "replaced file kept during the grace period" test -e "$(f "$H_TMP/a.bin")"
h_check "replaced file deleted after the grace period" h_wait_for 20 test ! -e "$(f "$H_TMP/a.bin")"
h_check "its media type record deleted with it" test ! -e "$(f "$H_TMP/a.bin").type"
h_check "referenced file kept" test -e "$(f "$H_TMP/b.bin")"
h_check "with its media type record" test -e "$(f "$H_TMP/b.bin").type"
h_check "file still referenced by another collection kept" test -e "$(f "$H_TMP/s.bin")"

# Uploads racing the passes: c1 and c2 alternate on one record, so each is orphaned
# and named again over and over, for longer than the grace period.
END=$((SECONDS + 8))
n=0
while [ $SECONDS -lt $END ]; do
    for x in c1 c2; do
        up "$H_TMP/$x.bin" c race
        n=$((n + 1))
        h=$(curl -s -u "$A" "$H_PUB/buckets/b/collections/c/records/race" | h_json d.data.attachment.hash)
        [ -e "$FILES/${h:0:2}/$h" ] || h_check "upload $n: the record's file exists" false
    done
done
h_log "     $n uploads raced the collector"
sleep 5.5 # past the grace period and a pass: the record's current file must still be there
h=$(curl -s -u "$A" "$H_PUB/buckets/b/collections/c/records/race" | h_json d.data.attachment.hash)
h_check "after the race, the record's file exists and is intact" h_eq "$(sha "$FILES/${h:0:2}/$h")" "$h"
h_check "metrics: files and bytes" sh -c "curl -s '${H_PUB%/v1}/metrics' | grep -q '^herald_attachment_files [1-9]'"

# attachment_keep_old_files (kinto-attachment's keep_old_files): nothing is deleted.
kill "$H_PUB_PID"
wait "$H_PUB_PID" 2>/dev/null || true
H_PUB_PORT=${H_PUB#http://127.0.0.1:} H_PUB_PORT=${H_PUB_PORT%/v1} HERALD_ATTACHMENT_KEEP_OLD_FILES=true \
    h_start_publisher
head -c 3000 /dev/urandom >"$H_TMP/k1.bin"
head -c 3000 /dev/urandom >"$H_TMP/k2.bin"
up "$H_TMP/k1.bin" c keep
up "$H_TMP/k2.bin" c keep # k1.bin is no longer referenced
h_check "keep_old_files: the orphan is counted" h_wait_for 10 sh -c "curl -s '${H_PUB%/v1}/metrics' | grep -q '^herald_attachment_orphans_pending [1-9]'"
sleep 8.5 # two grace periods and several passes
h_check "keep_old_files: the orphan is never deleted" test -e "$(f "$H_TMP/k1.bin")"
h_finish
