#!/usr/bin/env bash
# What Kinto Admin reads from the publisher (issue 17): GET /v1/permissions lists the
# root "bucket:create"/"account:create" of bucket_create_principals and
# account_create_principals, the objects the settings grants cover, and everything the
# built-in admin may write (kinto/views/permissions.py); capabilities.signer is in the
# Remote Settings shape. And the admin page's files at /v1/admin/: Content-Type per
# extension, a strict Content-Security-Policy, no way out of the directory.
source "$(dirname "$0")/../support/harness.sh"

h_start_redis
h_start_publisher --account-create-principals system.Everyone \
    --bucket-create-principals account:alice --collection-write-principals account:carol \
    --signer-to-review-enabled true --signer-resources "/buckets/ws -> /buckets/pub"

req() {
    local user=$1 method=$2 path=$3 body=${4:-}
    rm -f "$H_TMP/body" "$H_TMP/head"
    local args=(-s -D "$H_TMP/head" -o "$H_TMP/body" -w '%{http_code}' -X "$method")
    [ "$user" != - ] && args+=(-u "$user")
    [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
    S=$(curl "${args[@]}" "$H_PUB$path")
}
B() { h_json "$1" <"$H_TMP/body"; }
hdr() { tr -d '\r' <"$H_TMP/head" | sed -n "s/^$1: //Ip" | head -1; }
# perms URI: the sorted permissions of URI in the last /permissions answer ("" if absent)
perms() { B "(d.data.find(e=>e.uri==='$1')||{permissions:[]}).permissions.slice().sort().join()"; }

for u in alice bob carol; do
    curl -s -o /dev/null -X PUT -H 'Content-Type: application/json' \
        --data-binary "{\"data\":{\"password\":\"pw-$u\"}}" "$H_PUB/accounts/$u"
done
AL=alice:pw-alice BO=bob:pw-bob CA=carol:pw-carol

# ---- /v1/permissions: root from the settings ----
req $AL GET /permissions
h_check "alice (bucket_create_principals): root bucket:create and account:create" \
    h_eq "$S/$(perms /)" "200/account:create,bucket:create"
h_check "the root entry as Kinto shows it" \
    h_eq "$(B "JSON.stringify(d.data.find(e=>e.uri==='/'))" | node -e 'const e=JSON.parse(require("fs").readFileSync(0,"utf8"));e.permissions.sort();console.log(JSON.stringify(e))')" \
    '{"permissions":["account:create","bucket:create"],"resource_name":"root","uri":"/"}'
req $BO GET /permissions
h_check "bob: root account:create only (account_create_principals)" h_eq "$(perms /)" "account:create"
req - GET /permissions
h_check "anonymous: root account:create (system.Everyone)" h_eq "$S/$(perms /)" "200/account:create"

# ---- objects: stored permissions, settings grants, the admin ----
req $AL PUT /buckets/b1 '{"permissions":{"read":["account:bob"]}}'
h_check "alice creates a bucket" h_eq "$S" 201
req $AL PUT /buckets/b1/collections/c1
req $AL PUT /buckets/b1/groups/g1 '{"data":{"members":[]}}'
req $H_AUTH PUT /buckets/b2
req $H_AUTH PUT /buckets/b2/collections/c2
req $AL GET /permissions
h_check "alice: write on her bucket implies read and its create permissions" \
    h_eq "$(perms /buckets/b1)" "collection:create,group:create,read,write"
h_check "alice: nothing on the admin's bucket" h_eq "$(perms /buckets/b2)" ""
req $BO GET /permissions
h_check "bob: read on b1 (stored)" h_eq "$(perms /buckets/b1)" "read"
req $CA GET /permissions
h_check "carol (collection_write_principals): every collection, write implies record:create" \
    h_eq "$(perms /buckets/b1/collections/c1)|$(perms /buckets/b2/collections/c2)|$(perms /buckets/b1)" \
    "read,record:create,write|read,record:create,write|"
h_check "carol: a collection entry's ids" \
    h_eq "$(B "JSON.stringify(d.data.find(e=>e.uri==='/buckets/b2/collections/c2'),['bucket_id','collection_id','id','resource_name'])")" \
    '{"bucket_id":"b2","collection_id":"c2","id":"c2","resource_name":"collection"}'
req $H_AUTH GET /permissions
h_check "admin: root bucket:create and account:create" h_eq "$(perms /)" "account:create,bucket:create"
h_check "admin: write on every bucket" \
    h_eq "$(perms /buckets/b1)|$(perms /buckets/b2)" \
    "collection:create,group:create,read,write|collection:create,group:create,read,write"
h_check "admin: write on every collection and group" \
    h_eq "$(perms /buckets/b1/collections/c1)|$(perms /buckets/b2/collections/c2)|$(perms /buckets/b1/groups/g1)" \
    "read,record:create,write|read,record:create,write|read,write"
req $H_AUTH GET "/permissions?resource_name=root"
h_check "filters apply to the root entry" h_eq "$(B 'd.data.map(e=>e.uri).join()')" "/"
req $H_AUTH GET "/permissions?_limit=2&_sort=uri"
h_check "paging: 2 entries and a Next-Page" h_eq "$(B 'd.data.length')/$( [ -n "$(hdr Next-Page)" ] && echo next)" "2/next"

# ---- capabilities Kinto Admin reads ----
req - GET /
h_check "capabilities.signer.resources is a list (Remote Settings' shape)" \
    h_eq "$(B 'JSON.stringify(d.capabilities.signer.resources.map(r=>[r.source.bucket,r.destination.bucket]))')" '[["ws","pub"]]'
h_check "permissions_endpoint and accounts capabilities" \
    h_eq "$(B '[!!d.capabilities.permissions_endpoint,!!d.capabilities.accounts].join()')" "true,true"

# ---- the admin page's files ----
req - GET /admin/
h_check "GET /v1/admin/: index.html" h_eq "$S/$(hdr Content-Type)" "200/text/html; charset=utf-8"
h_check "index.html is the admin page's" h_eq "$(grep -c 'type="module"' "$H_TMP/body")" 1
csp=$(hdr Content-Security-Policy)
h_check "CSP: same-origin scripts only, nothing else by default" \
    h_eq "$(echo "$csp" | grep -o "default-src 'none'; script-src 'self';")" "default-src 'none'; script-src 'self';"
h_check "CSP: no inline script, no eval" h_eq "$(echo "$csp" | grep -c "unsafe")" 0
h_check "nosniff, no framing" h_eq "$(hdr X-Content-Type-Options)/$(hdr X-Frame-Options)" "nosniff/DENY"
req - GET /admin/app.js
h_check "a .js file: text/javascript" h_eq "$S/$(hdr Content-Type)" "200/text/javascript; charset=utf-8"
req - GET /admin/style.css
h_check "a .css file: text/css" h_eq "$S/$(hdr Content-Type)" "200/text/css; charset=utf-8"
S=$(curl -s -I -o "$H_TMP/head" -w '%{http_code}' "$H_PUB/admin/app.js")
h_check "HEAD: the GET's headers" h_eq "$S/$(hdr Content-Type)" "200/text/javascript; charset=utf-8"
req - GET /admin/config.json
h_check "config.json: the page's settings (no read server configured)" h_eq "$S/$(cat "$H_TMP/body")" '200/{"read_server_url":null}'
req - GET /admin
h_check "/v1/admin: 307 to /v1/admin/" h_eq "$S/$(hdr Location)" "307//v1/admin/"
req - POST /admin/app.js
h_check "POST: 405" h_eq "$S" 405
# Paths that must not leave the directory (curl --path-as-is keeps the dots).
for p in "/admin/../admin/index.html" "/admin/..%2fpublisher.log" "/admin/%2e%2e/x.html" \
    "/admin/.hidden.html" "/admin//index.html" "/admin/index" "/admin/x.sh" "/admin/nope.html" \
    "/admin/a/b/c/d/e.html"; do
    s=$(curl -s --path-as-is -o /dev/null -w '%{http_code}' "$H_PUB$p")
    h_check "refused: $p" h_eq "$s" 404
done

# Every module of the page is served, byte for byte, as JavaScript; and none of them
# parses text as HTML or code (the CSP would stop eval, not innerHTML: content safety
# rests on dom.js building elements and setting text).
for f in "$H_SRC"/admin/*.js; do
    n=$(basename "$f")
    req - GET "/admin/$n"
    h_check "$n served as JavaScript, as in admin/" \
        h_eq "$S/$(hdr Content-Type)/$(cmp -s "$H_TMP/body" "$f" && echo same)" "200/text/javascript; charset=utf-8/same"
done
h_check "every module imported by the page is one of admin/*.js" \
    h_eq "$(grep -ho 'from "\./[^"]*"' "$H_SRC"/admin/*.js | sort -u | sed 's/from "\.\/\(.*\)"/\1/' |
        while read -r m; do [ -f "$H_SRC/admin/$m" ] || echo "$m"; done)" ""
h_check "no innerHTML, outerHTML, insertAdjacentHTML, document.write, eval or Function in admin/*.js" \
    h_eq "$(grep -nE 'innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|setTimeout\("' "$H_SRC"/admin/*.js)" ""

# ---- the page's review diff, in Node (admin/diff.js) ----
h_node_suite admin_diff.test.mjs "admin diff"
h_finish
