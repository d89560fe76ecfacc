#!/usr/bin/env bash
# herald-publisher speaks Kinto's HTTP API 1.x: every check here is a real HTTP request
# (curl) against a real publisher and Redis. Kinto's own JavaScript client runs against
# it in test_kinto_http.sh; this file pins the details a client library hides (status
# codes, errnos, headers, what Redis holds after a refused request).
source "$(dirname "$0")/../support/harness.sh"

h_start_redis
export HERALD_ACCOUNT_CREATE_PRINCIPALS=system.Everyone
export HERALD_FLUSH_ENDPOINT_ENABLED=true
# The event-loop probe below sends its wrong passwords from distinct addresses.
export HERALD_TRUSTED_FORWARDED_FOR_DEPTH=1
h_start_publisher --paginate-by 2 --storage-max-fetch-size 5 --max-object-bytes 2048 \
    --max-request-body-bytes 65536 --max-json-depth 8 --backoff 7

# req USER METHOD PATH [BODY] [CURL ARGS...]: body in $H_TMP/body, status in $S,
# headers in $H_TMP/h. USER is "user:password" or "-" for anonymous.
req() {
    local user=$1 method=$2 path=$3 body=${4:-}
    shift 3
    [ $# -gt 0 ] && shift
    rm -f "$H_TMP/body"
    local args=(-s -o "$H_TMP/body" -D "$H_TMP/h" -w '%{http_code}' -X "$method")
    [ "$user" != - ] && args+=(-u "$user")
    [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
    S=$(curl "${args[@]}" "$@" "$H_PUB$path")
}
B() { h_json "$1" <"$H_TMP/body"; }
# curl leaves no file for an empty body.
size() { [ -f "$H_TMP/body" ] && wc -c <"$H_TMP/body" | tr -d ' ' || echo 0; }
hdr() { tr -d '\r' <"$H_TMP/h" | sed -n "s/^$1: //Ip" | head -1; }
A=$H_AUTH

# ---- root, redirects, misc endpoints ----
req - GET /
h_check "root: 200, http_api_version 1.23" h_eq "$S/$(B d.http_api_version)/$(B d.project_name)" "200/1.23/herald"
h_check "root: capabilities" h_eq "$(B 'Object.keys(d.capabilities).sort().join()')" "accounts,flush_endpoint,herald_signatures,history,permissions_endpoint"
h_check "root: settings" h_eq "$(B 'd.settings.batch_max_requests+","+d.settings.readonly+","+d.settings.explicit_permissions')" "25,false,true"
h_check "root: absolute url" h_eq "$(B d.url)" "$H_PUB/"
h_check "root: no user when anonymous" h_eq "$(B '"user" in d')" false
h_check "Backoff header when configured" h_eq "$(hdr Backoff)" 7
req "$A" GET /
h_check "root: user when authenticated" h_eq "$(B d.user.id)" "account:admin"
code=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:$H_PUB_PORT/buckets/x")
h_check "path without /v1 -> 307" h_eq "$code" "307 $H_PUB/buckets/x"
code=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$H_PUB/buckets/?a=1")
h_check "trailing slash -> 307 keeping the query" h_eq "$code" "307 $H_PUB/buckets?a=1"
req - GET /../v2/buckets
curl -s -o "$H_TMP/body" "http://127.0.0.1:$H_PUB_PORT/v2/buckets"
h_check "other version -> 404 errno 116" h_eq "$(B d.errno)" 116
req - GET /__heartbeat__
h_check "__heartbeat__" h_eq "$S/$(B d.storage)" "200/true"
req - GET /__lbheartbeat__
h_check "__lbheartbeat__" h_eq "$S" 200
req - GET /__version__
h_check "__version__" h_eq "$S/$(B d.name)" "200/herald"

# ---- accounts ----
req - PUT /accounts/alice '{"data":{"password":"alice-pw"}}'
h_check "anonymous account creation (account_create_principals)" h_eq "$S" 201
h_check "password never returned" h_eq "$(B '"password" in d.data')" false
h_check "the account owns itself" h_eq "$(B 'd.permissions.write.join()')" "account:alice"
h_check "stored hash is argon2id" bash -c "redis-cli -p $H_REDIS_PORT HGET herald:objs::account alice | grep -q '\"password\":\"\\\$argon2id\\\$'"
req - POST /accounts '{"data":{"id":"bob","password":"bob-pw"}}'
h_check "POST /accounts with data.id" h_eq "$S" 201
req - PUT /accounts/carol '{"data":{}}'
h_check "account without password -> 400" h_eq "$S/$(B d.errno)" "400/107"
req alice:alice-pw GET /
h_check "Basic auth with an account" h_eq "$(B d.user.id)" "account:alice"
req alice:wrong GET /
h_check "wrong password -> anonymous" h_eq "$(B '"user" in d')" false
req alice:wrong GET /buckets
h_check "wrong password where auth is needed -> 401" h_eq "$S/$(B d.errno)" "401/104"
h_check "401 has WWW-Authenticate" h_eq "$(hdr WWW-Authenticate)" 'Basic realm="Realm"'
req alice:alice-pw PUT /accounts/dave '{"data":{"password":"x"}}'
h_check "a user cannot create another account" h_eq "$S" 400
req alice:alice-pw GET /accounts/bob
h_check "a user cannot read another account -> 403" h_eq "$S/$(B d.errno)" "403/121"
req alice:alice-pw GET /accounts
h_check "accounts list: only one's own" h_eq "$(B 'd.data.map(a=>a.id).join()')" "alice"
req "$A" GET /accounts
h_check "admin lists every account" h_eq "$(B 'd.data.map(a=>a.id).sort().join()')" "alice,bob"
req alice:alice-pw PATCH /accounts/alice '{"data":{"password":"alice-new"}}'
h_check "password change" h_eq "$S" 200
req alice:alice-pw GET /
h_check "old password refused at once (cache invalidated)" h_eq "$(B '"user" in d')" false
req alice:alice-new GET /
h_check "new password works" h_eq "$(B d.user.id)" "account:alice"

# Verifying an unknown password costs one argon2id run on a worker thread: other
# requests must go on meanwhile. 16 verifications are queued at once; once the first is
# answered (the workers are at work on the rest), a heartbeat must be answered while some
# are still pending -- an order of events, which a slower machine does not change.
# benchmarks/bench_event_loop.sh measures the heartbeat's latency meanwhile.
probe=$(node "$H_SRC/tests/support/loop_probe.cjs" "$H_PUB_PORT" bob 16)
h_log "     lbheartbeat during 16 argon2id verifications: $probe"
pending=$(sed -n 's/^pending=\([0-9]*\) .*/\1/p' <<<"$probe")
h_check "argon2id does not stall the event loop (heartbeat answered while verifications are pending)" \
    test "${pending:-0}" -gt 0

# ---- buckets, permissions, groups ----
req alice:alice-new PUT /buckets/shop '{"data":{"title":"Shop"}}'
h_check "authenticated user creates a bucket (bucket_create_principals)" h_eq "$S/$(B 'd.permissions.write.join()')" "201/account:alice"
h_check "ETag on the write" h_eq "$(hdr ETag)" "\"$(B d.data.last_modified)\""
h_check "Last-Modified on the write" test -n "$(hdr Last-Modified)"
req - PUT /buckets/anon '{}'
h_check "anonymous bucket creation -> 401" h_eq "$S" 401
req bob:bob-pw GET /buckets/shop
h_check "no permission -> 403" h_eq "$S/$(B d.errno)" "403/121"
req bob:bob-pw GET /buckets/nowhere
h_check "missing bucket without permission -> 403 (nothing leaks)" h_eq "$S" 403
req "$A" GET /buckets/nowhere
h_check "missing bucket -> 404 with details" h_eq "$S/$(B d.details.resource_name)/$(B d.details.id)" "404/bucket/nowhere"
req alice:alice-new PUT /buckets/shop/groups/staff '{"data":{"members":["account:bob"]}}'
h_check "group created" h_eq "$S/$(B 'd.data.members.join()')" "201/account:bob"
req alice:alice-new PUT /buckets/shop/groups/bad '{"data":{"members":"bob"}}'
h_check "group members must be a list" h_eq "$S" 400
req bob:bob-pw GET /
h_check "group URI among the user's principals" h_eq "$(B 'd.user.principals.includes("/buckets/shop/groups/staff")')" true
req alice:alice-new PUT /buckets/shop/collections/items '{"data":{},"permissions":{"read":["/buckets/shop/groups/staff"]}}'
h_check "collection readable by a group" h_eq "$S" 201
req alice:alice-new PUT /buckets/shop/collections/items/records/r1 '{"data":{"n":1}}'
req bob:bob-pw GET /buckets/shop/collections/items/records/r1
h_check "read inherited from the collection through the group" h_eq "$S/$(B d.data.n)" "200/1"
h_check "permissions hidden from readers" h_eq "$(B '"permissions" in d')" false
req bob:bob-pw PUT /buckets/shop/collections/items/records/r2 '{"data":{}}'
h_check "read does not imply write -> 403" h_eq "$S" 403
# items ID...: the stored JSON of each record ID of shop/items, one line each (empty if
# none). Each absence check below has a control: the same probe sees a stored record.
items() { h_redis HMGET 'herald:objs:/buckets/shop/collections/items:record' "$@"; }
h_check "refused write stored nothing" h_eq "$(items r2)" ""
h_check "  (control: the same probe sees the stored r1)" h_eq "$(items r1 | h_json d.n)" 1
req alice:alice-new PATCH /buckets/shop/groups/staff '{"data":{"members":[]}}'
req bob:bob-pw GET /buckets/shop/collections/items/records/r1
h_check "removed from the group -> 403 at once" h_eq "$S" 403
req alice:alice-new PATCH /buckets/shop/collections/items '{"permissions":{"record:create":["account:bob"]}}'
req bob:bob-pw POST /buckets/shop/collections/items/records '{"data":{"by":"bob"}}'
h_check "record:create lets bob create" h_eq "$S" 201
BOBREC=$(B d.data.id)
h_check "generated record id is a UUID4" bash -c "[[ '$BOBREC' =~ ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]]"
h_check "the creator gets write" h_eq "$(B 'd.permissions.write.join()')" "account:bob"
req bob:bob-pw GET /buckets/shop/collections/items/records
h_check "plural GET filtered to what bob may read" h_eq "$(B 'd.data.map(r=>r.id).join()')" "$BOBREC"
req "$A" POST /buckets '{"data":{}}'
h_check "generated bucket id has 8 characters" bash -c "[[ '$(B d.data.id)' =~ ^[a-z][a-z0-9]{7}$ ]]"
req alice:alice-new PUT /buckets/shop/collections/items/records/r1 '{"data":{"n":1},"permissions":{"oops":["x"]}}'
h_check "unknown permission -> 400" h_eq "$S" 400

# ---- PATCH flavours, preconditions ----
req alice:alice-new PUT /buckets/shop/collections/items/records/p '{"data":{"a":1,"o":{"x":1,"y":2}}}'
LM=$(B d.data.last_modified)
req alice:alice-new PATCH /buckets/shop/collections/items/records/p '{"data":{"b":2,"o":{"x":3}}}'
h_check "PATCH application/json: shallow merge" h_eq "$(B 'JSON.stringify([d.data.a,d.data.b,d.data.o])')" '[1,2,{"x":3}]'
curl -s -o "$H_TMP/body" -u alice:alice-new -X PATCH -H 'Content-Type: application/merge-patch+json' \
    --data-binary '{"data":{"a":null,"o":{"z":4}}}' "$H_PUB/buckets/shop/collections/items/records/p"
h_check "PATCH merge-patch: null removes, objects merge" h_eq "$(B 'JSON.stringify(["a" in d.data,d.data.o])')" '[false,{"x":3,"z":4}]'
curl -s -o "$H_TMP/body" -u alice:alice-new -X PATCH -H 'Content-Type: application/json-patch+json' \
    --data-binary '[{"op":"add","path":"/data/list","value":[1]},{"op":"add","path":"/permissions/read/system.Everyone"}]' \
    "$H_PUB/buckets/shop/collections/items/records/p"
h_check "PATCH json-patch: data and permission ops" h_eq "$(B 'JSON.stringify([d.data.list,d.permissions.read])')" '[[1],["system.Everyone"]]'
req - GET /buckets/shop/collections/items/records/p
h_check "record readable by everyone after the json-patch" h_eq "$S" 200
curl -s -o "$H_TMP/body" -u alice:alice-new -X PATCH -H 'Content-Type: application/json-patch+json' \
    --data-binary '[{"op":"remove","path":"/permissions/read/system.Everyone"}]' "$H_PUB/buckets/shop/collections/items/records/p"
req - GET /buckets/shop/collections/items/records/p
h_check "json-patch remove of a principal" h_eq "$S" 401
curl -s -o /dev/null -w '%{http_code}' -u alice:alice-new -X PATCH -H 'Content-Type: text/plain' --data-binary 'x' \
    "$H_PUB/buckets/shop/collections/items/records/p" >"$H_TMP/code"
h_check "unsupported Content-Type -> 415" h_eq "$(cat "$H_TMP/code")" 415
req alice:alice-new GET /buckets/shop/collections/items/records/p "" -H 'Accept: text/html'
h_check "Accept without JSON -> 406" h_eq "$S" 406
req alice:alice-new PUT /buckets/shop/collections/items/records/p '{"data":{"v":1}}' -H "If-Match: \"$LM\""
h_check "If-Match with an old timestamp -> 412 with existing" h_eq "$S/$(B d.errno)/$(B d.details.existing.id)" "412/114/p"
req alice:alice-new GET /buckets/shop/collections/items/records/p
CUR=$(B d.data.last_modified)
req alice:alice-new PUT /buckets/shop/collections/items/records/p '{"data":{"v":1}}' -H "If-Match: \"$CUR\""
h_check "If-Match with the current timestamp -> 200" h_eq "$S" 200
req alice:alice-new PUT /buckets/shop/collections/items/records/p '{"data":{"v":2}}' -H 'If-None-Match: *'
h_check "If-None-Match: * on an existing object -> 412" h_eq "$S" 412
req alice:alice-new PUT /buckets/shop/collections/items/records/new '{"data":{"v":2}}' -H 'If-None-Match: *'
h_check "If-None-Match: * creates" h_eq "$S" 201
req alice:alice-new GET /buckets/shop/collections/items/records/new "" -H "If-None-Match: \"$(B d.data.last_modified)\""
h_check "GET If-None-Match current -> 304" h_eq "$S/$(size)" "304/0"
req alice:alice-new GET /buckets/shop/collections/items/records/new "" -H 'If-Match: W/"1"'
h_check "malformed If-Match -> 400" h_eq "$S" 400
req alice:alice-new POST /buckets/shop/collections/items/records '{"data":{"id":"new","v":9}}'
h_check "POST of an existing id -> 200 with the existing object" h_eq "$S/$(B d.data.v)" "200/2"
req alice:alice-new DELETE /buckets/shop/collections/items/records/new "" -H 'If-Match: "1"'
h_check "DELETE with a stale If-Match -> 412" h_eq "$S" 412

# ---- listing ----
req alice:alice-new PUT /buckets/shop/collections/list '{}'
for i in 1 2 3; do req alice:alice-new PUT /buckets/shop/collections/list/records/x$i "{\"data\":{\"i\":$i,\"t\":\"k$((i % 2))\"}}"; done
TS=$(B d.data.last_modified)
req alice:alice-new GET "/buckets/shop/collections/list/records?_sort=i"
h_check "first page (paginate_by 2)" h_eq "$(B 'd.data.map(r=>r.i).join()')" "1,2"
h_check "Total-Records" h_eq "$(hdr Total-Records)" 3
h_check "list ETag is the list timestamp" h_eq "$(hdr ETag)" "\"$TS\""
NEXT=$(hdr Next-Page)
h_check "Next-Page is absolute" bash -c "[[ '$NEXT' == $H_PUB/buckets/shop/collections/list/records?* ]]"
curl -s -u alice:alice-new -o "$H_TMP/body" "$NEXT"
h_check "second page" h_eq "$(B 'd.data.map(r=>r.i).join()')" "3"
req alice:alice-new GET "/buckets/shop/collections/list/records?t=k1&_sort=-i"
h_check "filter + descending sort" h_eq "$(B 'd.data.map(r=>r.i).join()')" "3,1"
S=$(curl -s -I -u alice:alice-new -D "$H_TMP/h" -o /dev/null -w '%{http_code}/%{size_download}' "$H_PUB/buckets/shop/collections/list/records?gt_i=1")
h_check "HEAD: Total-Records, no body" h_eq "$S/$(hdr Total-Records)" "200/0/2"
req alice:alice-new GET "/buckets/shop/collections/list/records?_since=abc"
h_check "bad _since -> 400" h_eq "$S/$(B d.errno)" "400/107"
req alice:alice-new GET "/buckets/shop/collections/list/records" "" -H "If-None-Match: \"$TS\""
h_check "list If-None-Match current -> 304" h_eq "$S" 304
req alice:alice-new DELETE "/buckets/shop/collections/list/records?t=k1"
h_check "plural DELETE honours filters" h_eq "$(B 'd.data.map(r=>r.id+":"+r.deleted).sort().join()')" "x1:true,x3:true"
req alice:alice-new GET "/buckets/shop/collections/list/records?_since=$TS"
h_check "_since returns the tombstones" h_eq "$(B 'd.data.map(r=>r.id+":"+r.deleted).sort().join()')" "x1:true,x3:true"
req alice:alice-new GET "/buckets/shop/collections/list/records"
h_check "live list after the plural DELETE" h_eq "$(B 'd.data.map(r=>r.id).join()')" "x2"

# ---- batch ----
req alice:alice-new POST /batch '{"defaults":{"method":"PUT","path":"/buckets/shop/collections/b/records/x"},"requests":[{"path":"/buckets/shop/collections/b","body":{"data":{}}},{"path":"/buckets/shop/collections/b/records/a","body":{"data":{"n":1}}},{"path":"/buckets/shop/collections/b/records/c","body":{"data":{"n":2}}},{"method":"GET","path":"/buckets/shop/collections/b/records/zz"},{"method":"GET","path":"/buckets/shop/collections/b/records?_sort=n"}]}'
h_check "batch: 200 with statuses in order" h_eq "$S/$(B 'd.responses.map(r=>r.status).join()')" "200/201,201,201,404,200"
h_check "batch: timestamps strictly increase within the batch" h_eq "$(B 'd.responses[1].body.data.last_modified < d.responses[2].body.data.last_modified')" true
h_check "batch: sub-responses carry bodies" h_eq "$(B 'd.responses[4].body.data.map(r=>r.id).join()')" "a,c"
big=$(node -e 'console.log(JSON.stringify({requests:Array.from({length:26},()=>({path:"/"}))}))')
req alice:alice-new POST /batch "$big"
h_check "batch_max_requests -> 400" h_eq "$S/$(B d.errno)" "400/107"
req alice:alice-new POST /batch '{"requests":[{"method":"POST","path":"/batch","body":{"requests":[]}}]}'
h_check "recursive batch -> 400" h_eq "$S" 400
req - POST /batch '{"requests":[{"method":"PUT","path":"/accounts/erin","body":{"data":{"password":"erin-pw"}}}]}'
h_check "batch: account creation hashes off the loop" h_eq "$(B 'd.responses[0].status')" 201
req erin:erin-pw GET /
h_check "account created in a batch authenticates" h_eq "$(B d.user.id)" "account:erin"

# ---- limits ----
req alice:alice-new PUT /buckets/shop/collections/items/records/deep '{"data":{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":1}}}}}}}}}'
h_check "nesting deeper than max_json_depth -> 400" h_eq "$S" 400
blob=$(head -c 3000 /dev/zero | tr '\0' a)
req alice:alice-new PUT /buckets/shop/collections/items/records/big "{\"data\":{\"s\":\"$blob\"}}"
h_check "object larger than max_object_bytes -> 413" h_eq "$S/$(B d.errno)" "413/113"
huge=$(head -c 70000 /dev/zero | tr '\0' a)
req alice:alice-new PUT /buckets/shop/collections/items/records/huge "{\"data\":{\"s\":\"$huge\"}}"
h_check "body larger than max_request_body_bytes -> 413" h_eq "$S" 413
h_check "rejected writes stored nothing" h_eq "$(items deep big huge | tr -d '\n')" ""
h_check "  (control: the same probe sees the stored p)" h_eq "$(items deep p huge | tr -d '\n' | h_json d.v)" 1
req alice:alice-new PUT /buckets/shop/collections/full '{}'
for i in 1 2 3 4 5; do req alice:alice-new PUT /buckets/shop/collections/full/records/f$i '{"data":{}}'; done
req alice:alice-new PUT /buckets/shop/collections/full/records/f6 '{"data":{}}'
h_check "storage_max_fetch_size records per collection -> 413" h_eq "$S" 413
req alice:alice-new PUT /buckets/shop/collections/full/records/f5 '{"data":{"replace":true}}'
h_check "replacing a record in a full collection works" h_eq "$S" 200
req alice:alice-new PUT /buckets/shop/collections/items/records/dup '{"data":{"a":1,"a":2}}'
h_check "duplicate keys -> 400" h_eq "$S" 400
req alice:alice-new PUT /buckets/shop/collections/items/records/r1 '{"data":{"n":9007199254740993}}'
h_check "integer beyond 2^53 -> 400" h_eq "$S" 400

# ---- methods, CORS ----
req "$A" PATCH /buckets '{}'
h_check "PATCH on a list -> 405 errno 115" h_eq "$S/$(B d.errno)" "405/115"
req "$A" POST /buckets/shop '{}'
h_check "POST on an object -> 405" h_eq "$S" 405
curl -s -D "$H_TMP/h" -o /dev/null -X OPTIONS -H 'Origin: https://admin.example' \
    -H 'Access-Control-Request-Method: PUT' -H 'Access-Control-Request-Headers: authorization,content-type' "$H_PUB/buckets/shop"
h_check "preflight: allow origin" h_eq "$(hdr Access-Control-Allow-Origin)" "https://admin.example"
h_check "preflight: allow headers" h_eq "$(hdr Access-Control-Allow-Headers)" "authorization,content-type"
h_check "preflight: allow methods" bash -c "[[ '$(hdr Access-Control-Allow-Methods)' == *PUT* ]]"
req - GET / "" -H 'Origin: https://admin.example'
h_check "CORS: expose headers" bash -c "[[ '$(hdr Access-Control-Expose-Headers)' == *Next-Page*Total-Records* ]]"

# ---- deletes, cascades, change events ----
# What the cascade must remove, probed before (the control: each probe sees what exists)
# and after. bob is put back in a group of the bucket, so its member index is not empty.
b_records() { h_redis EXISTS 'herald:objs:/buckets/shop/collections/b:record'; }
bob_groups() { h_redis SMEMBERS 'herald:principals:account:bob' | tr -d '\n'; }
req alice:alice-new PATCH /buckets/shop/groups/staff '{"data":{"members":["account:bob"]}}'
h_check "  (control: the records of shop/b exist before the delete)" h_eq "$(b_records)" 1
h_check "  (control: bob's member index lists the group before the delete)" h_eq "$(bob_groups)" /buckets/shop/groups/staff
before=$(redis-cli -p $H_REDIS_PORT XLEN herald:changes)
req alice:alice-new DELETE /buckets/shop
h_check "bucket delete" h_eq "$S/$(B d.data.deleted)" "200/true"
after=$(redis-cli -p $H_REDIS_PORT XLEN herald:changes)
h_check "bucket delete emits one event per collection + the bucket" h_eq "$((after - before))" 5
h_check "cascade removed the records" h_eq "$(b_records)" 0
h_check "cascade removed the groups' member index" h_eq "$(bob_groups)" ""
req alice:alice-new GET /buckets/shop/collections/b/records/a
h_check "objects under a deleted bucket: 403 for its former writer" h_eq "$S" 403

# ---- permissions endpoint, flush ----
req "$A" PUT /buckets/keep '{}'
req "$A" PUT /buckets/keep/collections/c '{}'
req "$A" GET "/permissions?bucket_id=keep"
h_check "GET /permissions lists the admin's objects (filtered)" h_eq "$(B 'd.data.map(e=>e.resource_name+":"+e.permissions.includes("write")).sort().join()')" "bucket:true,collection:true"
req "$A" GET "/permissions?_sort=uri"
h_check "GET /permissions paginates (paginate_by 2)" h_eq "$(B 'd.data.length')/$(hdr Next-Page | grep -c _token)" "2/1"
before=$(redis-cli -p $H_REDIS_PORT XLEN herald:changes)
req - POST /__flush__
h_check "__flush__ -> 202" h_eq "$S" 202
h_check "__flush__ emits events for what existed" test "$(redis-cli -p $H_REDIS_PORT XLEN herald:changes)" -gt "$before"
req "$A" GET /buckets
h_check "__flush__ wiped the buckets" h_eq "$(B 'd.data.length')" 0
req alice:alice-new GET /
h_check "__flush__ wiped the accounts (and their cached credentials)" h_eq "$(B '"user" in d')" false

# ---- Redis down -> 503 ----
kill "$H_REDIS_PID"
wait "$H_REDIS_PID" 2>/dev/null || true
req "$A" GET /buckets
h_check "Redis down -> 503 errno 201 with Retry-After" h_eq "$S/$(B d.errno)/$(hdr Retry-After)" "503/201/5"

# ---- end of service ----
unset H_PUB_PORT
h_start_redis
h_start_publisher --eos 2000-01-01 --eos-message "moved" --eos-url "https://example.org/new"
req "$A" GET /buckets
h_check "after eos -> 410 errno 202" h_eq "$S/$(B d.errno)" "410/202"
h_check "Alert header" h_eq "$(hdr Alert | h_json d.code)" "hard-eol"

h_finish
