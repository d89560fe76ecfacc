#!/usr/bin/env bash
# Kinto's history plugin (issue 11): every create, update and delete of buckets,
# collections, groups and records, including batch sub-requests, has its entry,
# written by the same Redis script as the write; GET/DELETE /buckets/{bid}/history with
# Kinto's filters and pagination; permission filtering; the snapshot endpoint;
# exclusions. Retention trimming is in test_history_retention.sh.
source "$(dirname "$0")/../support/harness.sh"

h_start_redis
export HERALD_ACCOUNT_CREATE_PRINCIPALS=system.Everyone
h_start_publisher --history-exclude-resources "/buckets/quiet /buckets/b/collections/hidden"

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
hdr() { tr -d '\r' <"$H_TMP/h" | sed -n "s/^$1: //Ip" | head -1; }
A=$H_AUTH
for u in alice bob carol; do req - PUT /accounts/$u "{\"data\":{\"password\":\"pw-$u\"}}"; done
AL=alice:pw-alice BO=bob:pw-bob CA=carol:pw-carol

req - GET /
h_check "capabilities.history" h_eq "$(B 'd.capabilities.history.description')" "Track changes on data."
h_check "capabilities.history lists excluded resources" \
    h_eq "$(B 'JSON.stringify(d.capabilities.history.excluded_resources)')" '[{"bucket":"quiet"},{"bucket":"b","collection":"hidden"}]'

# ---- one entry per write, each kind ----
req $AL PUT /buckets/b
req $AL PUT /buckets/b/collections/c '{"data":{"title":"C"}}'
req $AL PUT /buckets/b/groups/g '{"data":{"members":["account:bob"]}}'
req $AL PUT /buckets/b/collections/c/records/r1 '{"data":{"n":1}}'
R1_LM=$(B d.data.last_modified)
req $AL PATCH /buckets/b/collections/c/records/r1 '{"data":{"n":2}}'
req $AL PATCH /buckets/b/collections/c/records/r1 '{"permissions":{"read":["account:carol"]}}'
req $AL DELETE /buckets/b/collections/c/records/r1
req $AL GET /buckets/b/history
h_check "GET history: 200" h_eq "$S" 200
h_check "entries newest first: actions" h_eq "$(B 'd.data.map(e=>e.resource_name+":"+e.action).join()')" \
    "record:delete,record:update,record:update,record:create,group:create,collection:create,bucket:create"
h_check "bucket entry shape" h_eq "$(B '((e)=>[e.uri,e.user_id,e.bucket_id,e.target.data.id,JSON.stringify(e.target.permissions.write)].join("|"))(d.data[6])')" \
    '/buckets/b|account:alice|b|b|["account:alice"]'
h_check "record entry shape (ids, uri, target)" h_eq "$(B '((e)=>[e.uri,e.collection_id,e.record_id,e.target.data.n,e.target.data.last_modified,"bucket_id" in e].join("|"))(d.data[3])')" \
    "/buckets/b/collections/c/records/r1|c|r1|1|$R1_LM|false"
h_check "group entry has group_id" h_eq "$(B 'd.data[4].group_id+"|"+d.data[4].target.data.members')" "g|account:bob"
h_check "permission change is an update entry with the new ACL" \
    h_eq "$(B 'JSON.stringify(d.data[1].target.permissions.read)')" '["account:carol"]'
h_check "delete entry holds the tombstone" h_eq "$(B 'JSON.stringify(d.data[0].target.data.deleted)+"|"+d.data[0].target.data.id')" "true|r1"
h_check "entry: id uuid, date ISO-8601 UTC µs, last_modified strictly decreasing" \
    h_eq "$(B 'd.data.every((e,i)=>/^[0-9a-f-]{36}$/.test(e.id)&&/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$/.test(e.date)&&(i==0||d.data[i-1].last_modified>e.last_modified))')" true
h_check "no internal field leaks" h_eq "$(B 'd.data.some(e=>"__read__" in e)')" false
h_check "ETag is the history timestamp" h_eq "$(hdr ETag)" "\"$(B 'd.data[0].last_modified')\""

# ---- filters, sort, pagination ----
req $AL GET '/buckets/b/history?resource_name=record&action=update'
h_check "filter resource_name+action" h_eq "$(B 'd.data.length')" 2
req $AL GET '/buckets/b/history?exclude_resource_name=record&_sort=last_modified'
h_check "exclude_ + _sort ascending" h_eq "$(B 'd.data.map(e=>e.resource_name).join()')" "bucket,collection,group"
req $AL GET '/buckets/b/history?target.data.n=2'
h_check "dotted target.* filter" h_eq "$(B 'd.data.length+"|"+d.data[0].action')" "2|update"
req $AL GET '/buckets/b/history?collection_id=c&record_id=r1&_limit=2'
h_check "_limit 2 of 4, Total-Records" h_eq "$(B 'd.data.length')/$(hdr Total-Records)" "2/4"
NEXT=$(hdr Next-Page)
h_check "Next-Page given" test -n "$NEXT"
curl -s -u $AL "$NEXT" >"$H_TMP/body"
h_check "second page: the 2 older entries" h_eq "$(B 'd.data.map(e=>e.action).join()')" "update,create"
req $AL GET "/buckets/b/history?uri=/buckets/b/collections/c/records/r1&_before=$(B 'd.data[0].last_modified')&_limit=1"
h_check "_before + uri (Kinto Admin's previous version)" h_eq "$(B 'd.data[0].action+d.data.length')" "create1"
req $AL GET '/buckets/b/history?user_id=account:alice&like_uri=*groups*'
h_check "user_id + like_ filters" h_eq "$(B 'd.data.length')" 1
req $AL GET '/buckets/b/history?nope=1'
h_check "unknown filter field: 400/107" h_eq "$S/$(B d.errno)" "400/107"
req $AL GET '/buckets/b/history?_sort=nope'
h_check "unknown sort field: 400" h_eq "$S" 400
req $AL PUT /buckets/b/history '{}'
h_check "PUT history: 405" h_eq "$S" 405
req $AL GET /buckets/b/history/xyz
h_check "no per-entry URL: 404" h_eq "$S" 404

# ---- batch: every sub-request logged, failed ones not ----
req $AL POST /batch '{"defaults":{"method":"PUT"},"requests":[
  {"path":"/buckets/b/collections/c/records/x1","body":{"data":{"v":1}}},
  {"path":"/buckets/b/collections/c/records/x2","body":{"data":{"v":2}}},
  {"path":"/buckets/b/collections/nowhere/records/x3","body":{"data":{}}},
  {"method":"DELETE","path":"/buckets/b/collections/c/records/x1"}]}'
h_check "batch: 200" h_eq "$S/$(B 'd.responses.map(r=>r.status).join()')" "200/201,201,404,200"
req $AL GET '/buckets/b/history?in_record_id=x1,x2,x3'
h_check "batch: three entries, none for the failed sub-request" \
    h_eq "$(B 'd.data.map(e=>e.record_id+":"+e.action).join()')" "x1:delete,x2:create,x1:create"

# ---- no entry for a refused or unchanged write ----
N0=$(h_redis ZCARD herald:hist:b)
req $BO PUT /buckets/b/collections/c/records/bobs '{"data":{}}'
h_check "refused write (403) ..." h_eq "$S" 403
req $AL PATCH /buckets/b/collections/c '{"data":{"title":"C"}}'
h_check "unchanged PATCH (200) ..." h_eq "$S" 200
h_check "... leave no entry" h_eq "$(h_redis ZCARD herald:hist:b)" "$N0"

# ---- exclusions ----
req $AL PUT /buckets/quiet
req $AL PUT /buckets/quiet/collections/q
req $AL PUT /buckets/b/collections/hidden
req $AL PUT /buckets/b/collections/hidden/records/h1 '{"data":{}}'
h_check "excluded bucket: no entries" h_eq "$(h_redis ZCARD herald:hist:quiet)" 0
req $AL GET '/buckets/b/history?collection_id=hidden'
h_check "excluded collection: no entries" h_eq "$S/$(B 'd.data.length')" "200/0"

# ---- permissions ----
req $BO GET /buckets/b/history
h_check "no read anywhere: 403" h_eq "$S" 403
req $AL PUT /buckets/b/collections/shared '{"permissions":{"read":["account:bob"]}}'
req $AL PUT /buckets/b/collections/shared/records/s1 '{"data":{"k":1}}'
req $AL PUT /buckets/b/collections/c/records/secret '{"data":{"k":2}}'
req $BO GET /buckets/b/history
h_check "collection reader sees only that collection's entries" \
    h_eq "$S/$(B 'd.data.map(e=>e.uri).join()')" "200//buckets/b/collections/shared/records/s1,/buckets/b/collections/shared"
req $AL PATCH /buckets/b/collections/shared '{"permissions":{"read":[]}}'
req $BO GET /buckets/b/history
h_check "revoked reader: old entries hidden too (403)" h_eq "$S" 403
req $AL PUT /buckets/b/collections/c/records/forcarol '{"data":{},"permissions":{"read":["account:carol"]}}'
req $CA GET /buckets/b/history
h_check "record reader sees that record's entries only" h_eq "$(B 'd.data.map(e=>e.record_id).join()')" "forcarol"
req $CA DELETE /buckets/b/history
h_check "DELETE needs bucket write: 403" h_eq "$S" 403
req - GET /buckets/b/history
h_check "anonymous: 401" h_eq "$S" 401

# ---- snapshot ----
req $AL PUT /buckets/b/collections/snap
req $AL PUT /buckets/b/collections/snap/records/a '{"data":{"v":1}}'
T1=$(B d.data.last_modified)
req $AL PUT /buckets/b/collections/snap/records/b '{"data":{"v":1}}'
req $AL PUT /buckets/b/collections/snap/records/a '{"data":{"v":2}}'
T2=$(B d.data.last_modified)
req $AL DELETE /buckets/b/collections/snap/records/b
req $AL GET "/buckets/b/snapshot/collections/snap@$T1"
h_check "snapshot at T1: a v1 only" h_eq "$S/$(B 'd.data.map(r=>r.id+r.v).join()')" "200/a1"
req $AL GET "/buckets/b/snapshot/collections/snap@$T2"
h_check "snapshot at T2: a v2, b v1" h_eq "$(B 'd.data.map(r=>r.id+r.v).join()')" "a2,b1"
req $AL GET "/buckets/b/snapshot/collections/snap@$((T2 + 100000))"
h_check "snapshot later: b deleted" h_eq "$(B 'd.data.map(r=>r.id+r.v).join()')" "a2"
req $AL GET "/buckets/b/snapshot/collections/snap@abc"
h_check "snapshot non-integer ts: 400" h_eq "$S" 400
req $AL GET "/buckets/b/snapshot/collections/snap@-5"
h_check "snapshot negative ts: 400" h_eq "$S" 400
req $BO GET "/buckets/b/snapshot/collections/snap@$T2"
h_check "snapshot without read: 403" h_eq "$S" 403

# ---- DELETE with filters; bucket delete erases the history ----
req $AL DELETE '/buckets/b/history?collection_id=snap&resource_name=record'
h_check "DELETE history: deleted entries listed" h_eq "$S/$(B 'd.data.length')/$(B 'd.data[0].deleted')" "200/4/true"
req $AL GET '/buckets/b/history?collection_id=snap'
h_check "... and gone (the collection entry stays)" h_eq "$(B 'd.data.map(e=>e.resource_name).join()')" "collection"
req $AL DELETE /buckets/b
h_check "bucket delete erases its history" h_eq "$(h_redis EXISTS herald:hist:b herald:histe:b)" 0
req $AL PUT /buckets/b
req $AL GET /buckets/b/history
h_check "recreated bucket: one create entry" h_eq "$(B 'd.data.map(e=>e.action).join()')" "create"
h_finish
