#!/usr/bin/env bash
# Collection JSON schemas as Kinto has them (kinto/schema_validation.py, its
# tests/test_views_schema_*.py): a publisher with experimental_collection_schema_validation
# off, then one with it on, over the same Redis. Every check is a real HTTP request.
source "$(dirname "$0")/../support/harness.sh"

h_start_redis

json() { node -e 'const d=JSON.parse(require("fs").readFileSync(0,"utf8"));const v=('"$1"');process.stdout.write(typeof v==="string"?v:JSON.stringify(v))'; }
# req METHOD PATH [BODY] [CURL ARGS...] as the admin: body in $H_TMP/body, status in $S.
req() {
    local method=$1 path=$2 body=${3:-}
    shift 2
    [ $# -gt 0 ] && shift
    rm -f "$H_TMP/body"
    local args=(-s -o "$H_TMP/body" -w '%{http_code}' -X "$method" -u "$H_AUTH")
    [ -n "$body" ] && args+=(-H "Content-Type: ${CT:-application/json}" --data-binary "$body")
    S=$(curl "${args[@]}" "$@" "$H_PUB$path")
}
B() { json "$1" <"$H_TMP/body"; }

SCHEMA='{"title":"Blog post schema","type":"object","properties":{"title":{"type":"string"},"body":{"type":"string"},"file":{"type":"object","properties":{"size":{"type":"number"},"name":{"type":"string"}}},"tags":{"type":"array","items":{"type":"string"}}},"required":["title"]}'
BAD_SCHEMA='{"title":"Blog post schema","type":"Washmachine","properties":{"title":{"type":"string"}},"required":["title"]}'
WASH="'Washmachine' is not valid under any of the given schemas"

# ---- validation off (Kinto's default) ----
h_start_publisher
req GET /
h_check "off: no schema capability" h_eq "$(B '"schema" in d.capabilities')" false
req PUT /buckets/off ''
req PUT /buckets/off/collections/c "{\"data\":{\"schema\":$BAD_SCHEMA}}"
h_check "off: an invalid schema is still refused (Kinto checks it always)" \
    h_eq "$S/$(B d.errno)/$(B 'd.details[0].name')" "400/107/data.schema"
h_check "off: the message names the problem" h_eq "$(B "d.message.includes(\"$WASH\")")" true
req PUT /buckets/off/collections/c "{\"data\":{\"schema\":$SCHEMA}}"
h_check "off: a valid schema is stored" h_eq "$S" 201
req POST /buckets/off/collections/c/records '{"data":{"body":"no title","schema":5}}'
h_check "off: records are not validated, their schema field is theirs" h_eq "$S/$(B d.data.schema)" "201/5"
kill "$H_PUB_PID"
wait "$H_PUB_PID" 2>/dev/null || true
unset H_PUB_PORT

# ---- validation on ----
export HERALD_EXPERIMENTAL_COLLECTION_SCHEMA_VALIDATION=true
h_start_publisher
req GET /
h_check "on: capabilities.schema as Kinto's" h_eq "$(B 'JSON.stringify(d.capabilities.schema)')" \
    '{"description":"Validates collection records with JSON schemas.","url":"https://kinto.readthedocs.io/en/latest/api/1.x/collections.html#collection-json-schema"}'

B1=/buckets/blog
C1=$B1/collections/articles
R1=$C1/records
req PUT $B1 ''
req PUT $C1 ''
req PUT $B1/collections/free ''
req POST $B1/collections/free/records '{"data":{"author":{"age":32}}}'
h_check "a collection without schema accepts anything, no schema field" h_eq "$S/$(B '"schema" in d.data')" "201/false"

req PUT $C1 "{\"data\":{\"schema\":$BAD_SCHEMA}}"
h_check "invalid schema -> 400 107 data.schema" h_eq "$S/$(B d.errno)/$(B d.error)/$(B 'd.details[0].name')/$(B 'd.details[0].location')" "400/107/Invalid parameters/data.schema/body"
h_check "invalid schema: Kinto's message" h_eq "$(B d.message)" "data.schema in body: type$WASH"
req PUT $C1 '{"data":{"schema":"nope"}}'
h_check "a schema that is not an object -> 400" h_eq "$S/$(B d.errno)/$(B d.message)" \
    '400/107/data.schema in body: "nope" is not a mapping type: Does not implement dict-like functionality.'
req PUT $C1 '{"data":{"schema":{"type":"object","properties":{"x":{"$ref":"#/definitions/nowhere"}}}}}'
h_check "a schema with an unresolvable \$ref -> 400 (refused when set)" h_eq "$S/$(B d.errno)" "400/107"
req PUT $C1 '{"data":{"schema":{"$ref":"https://example.com/s.json"}}}'
h_check "a remote \$ref -> 400 (never fetched)" h_eq "$S/$(B d.errno)" "400/107"

req PUT $C1 "{\"data\":{\"schema\":$SCHEMA}}"
h_check "valid schema set" h_eq "$S" 200
V1=$(B d.data.last_modified)

req POST $R1 '{"data":{"body":"<h1>Without title</h1>"}}'
h_check "POST invalid -> 400 errno 107" h_eq "$S/$(B d.errno)/$(B d.code)/$(B d.error)" "400/107/400/Invalid parameters"
h_check "message: the first error" h_eq "$(B d.message)" "'title' is a required property"
h_check "details: Kinto's list" h_eq "$(B 'JSON.stringify(d.details)')" \
    '[{"description":"'"'title'"' is a required property","location":"body","name":"title"}]'
req POST $R1 '{"data":{"title":"t","file":{"size":"hi!"}}}'
h_check "nested error: name and message" h_eq "$(B 'd.details[0].name')/$(B d.message)" "size/size in body: 'hi!' is not of type 'number'"
req POST $R1 '{"data":{"title":"t","tags":[0]}}'
h_check "array item: the name is the index, a number" h_eq "$S/$(B 'JSON.stringify(d.details[0].name)')" "400/0"
req POST $R1 '{"data":{}}'
h_check "empty record -> 400" h_eq "$S" 400
req POST $R1 '{"data":{"title":"About us","body":"<h1>About</h1>"}}'
h_check "POST valid -> 201 with schema = collection last_modified" h_eq "$S/$(B d.data.schema)" "201/$V1"
RID=$(B d.data.id)
req POST $R1 '{"data":{"title":"Big","file":{"size":9007199254740991}}}'
h_check "the largest exact integer validates as a number" h_eq "$S" 201

req PUT $R1/p1 '{"data":{"body":"no title"}}'
h_check "PUT invalid -> 400" h_eq "$S/$(B d.errno)" "400/107"
req GET $R1/p1
h_check "nothing was stored" h_eq "$S" 404
req PUT $R1/p1 '{"data":{"title":"p","schema":1,"last_modified":2}}'
h_check "PUT valid -> 201; schema and last_modified are the server's" \
    h_eq "$S/$(B d.data.schema)/$(B 'd.data.last_modified > 2')" "201/$V1/true"

req PATCH $R1/$RID '{"data":{"title":3.14}}'
h_check "PATCH (JSON) invalid -> 400" h_eq "$S/$(B d.message)" "400/title in body: 3.14 is not of type 'string'"
CT=application/merge-patch+json req PATCH $R1/$RID '{"data":{"title":null}}'
h_check "PATCH (merge) removing a required field -> 400" h_eq "$S/$(B d.message)" "400/'title' is a required property"
CT=application/json-patch+json req PATCH $R1/$RID '[{"op":"add","path":"/data/tags","value":[1]}]'
h_check "PATCH (JSON Patch) invalid -> 400" h_eq "$S/$(B d.errno)" "400/107"
req GET $R1/$RID
h_check "the record is unchanged" h_eq "$(B d.data.title)/$(B '"tags" in d.data')" "About us/false"
CT=application/json-patch+json req PATCH $R1/$RID '[{"op":"add","path":"/data/tags","value":["a"]}]'
h_check "PATCH (JSON Patch) valid -> 200" h_eq "$S/$(B 'd.data.tags.join()')" "200/a"
CT=application/merge-patch+json req PATCH $R1/$RID '{"data":{"body":"new"}}'
h_check "PATCH (merge) valid -> 200" h_eq "$S/$(B d.data.body)" "200/new"

# ---- schema change, then min_schema ----
req PUT $C1 "{\"data\":{\"schema\":$SCHEMA}}"
V2=$(B d.data.last_modified)
h_check "a new schema version" test "$V2" -gt "$V1"
req POST $R1 '{"data":{"title":"after"}}'
h_check "new records carry the new version" h_eq "$(B d.data.schema)" "$V2"
req GET "$R1?min_schema=$V2"
h_check "?min_schema= lists only records of that version" h_eq "$(B 'd.data.map(r=>r.title).join()')" "after"
req GET "$R1?lt_schema=$V2&_sort=title"
h_check "?lt_schema= lists the older ones" h_eq "$(B 'd.data.map(r=>r.title).join()')" "About us,Big,p"

# ---- id, last_modified, schema ----
C2=$B1/collections/strict
req PUT $C2 '{"data":{"schema":{"type":"object","properties":{"title":{"type":"string"}},"required":["title"],"additionalProperties":false}}}'
req PUT $C2/records/r1 '{"data":{"id":"r1","title":"x","last_modified":1,"schema":2}}'
h_check "id, last_modified, schema are not validated (additionalProperties false)" h_eq "$S" 201
req PUT $C2/records/r1 '{"data":{"title":"x","extra":"blah!"}}'
h_check "an extra property is refused" h_eq "$S/$(B "d.message.includes(\"'extra' was unexpected)\")")" "400/true"
req PUT $C2 '{"data":{"schema":{"type":"object","required":["id","schema","last_modified"]}}}'
req POST $C2/records '{"data":{}}'
h_check "id, schema, last_modified dropped from required" h_eq "$S" 201
req PUT $C2 '{"data":{"schema":{"type":"object","properties":{"id":{"type":"string","pattern":"^[0-7]$"}}}}}'
req POST $C2/records '{"data":{"id":"a"}}'
h_check "an id named in properties is validated" h_eq "$S/$(B 'd.details[0].name')" "400/id"
req POST $C2/records '{"data":{"id":"1"}}'
h_check "a matching id is accepted" h_eq "$S" 201
req PUT $C2 '{"data":{"schema":{"type":"object","properties":{"attachment":{"type":"object"}}}}}'
req POST $C2/records '{"data":{"attachment":"x"}}'
h_check "attachment is an ordinary field" h_eq "$S/$(B 'd.details[0].name')" "400/attachment"

# ---- empty schema ----
req PATCH $C2 '{"data":{"schema":{}}}'
h_check "an empty schema is accepted" h_eq "$S/$(B 'JSON.stringify(d.data.schema)')" "200/{}"
req POST $C2/records '{"data":{"attachment":"x","n":[1]}}'
h_check "an empty schema validates everything" h_eq "$S" 201

# ---- bucket-level schemas ----
B2=/buckets/cms
req PUT $B2 "{\"data\":{\"record:schema\":$BAD_SCHEMA}}"
h_check "invalid record:schema -> 400 data.record:schema" h_eq "$S/$(B 'd.details[0].name')" "400/data.record:schema"
req PUT $B2 "{\"data\":{\"record:schema\":$SCHEMA,\"collection:schema\":{\"type\":\"object\",\"required\":[\"displayFields\"],\"properties\":{\"displayFields\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}}},\"group:schema\":{\"type\":\"object\",\"properties\":{\"members\":{\"maxItems\":1}}}}}"
h_check "bucket with record:, collection:, group:schema" h_eq "$S" 201
req PUT $B2/collections/a '{"data":{"displayFields":42}}'
h_check "collection:schema applies to collections" h_eq "$S/$(B 'd.details[0].name')" "400/displayFields"
req PUT $B2/collections/a '{"data":{}}'
h_check "a collection missing a required field -> 400" h_eq "$S" 400
req PUT $B2/collections/a '{"data":{"displayFields":["title"]}}'
h_check "a matching collection -> 201" h_eq "$S" 201
req PUT $B2/groups/g '{"data":{"members":["a","b"]}}'
h_check "group:schema applies to groups" h_eq "$S/$(B 'd.details[0].name')" "400/members"
req PUT $B2/groups/g '{"data":{"members":["a"]}}'
h_check "a matching group -> 201" h_eq "$S" 201
req POST $B2/collections/a/records '{"data":{"body":"no title"}}'
h_check "record:schema applies to every collection" h_eq "$S/$(B d.message)" "400/'title' is a required property"
req POST $B2/collections/a/records '{"data":{"title":"ok"}}'
h_check "a matching record -> 201, no schema field (bucket-level)" h_eq "$S/$(B '"schema" in d.data')" "201/false"
req PATCH $B2/collections/a '{"data":{"schema":{"type":"object","properties":{"filters":{"type":"string"}}}}}'
req POST $B2/collections/a/records '{"data":{"title":"ok","filters":42}}'
h_check "both schemas: the collection's refuses" h_eq "$S/$(B 'd.details[0].name')" "400/filters"
req POST $B2/collections/a/records '{"data":{"filters":"1 == 1"}}'
h_check "both schemas: the bucket's refuses" h_eq "$S/$(B 'd.details[0].name')" "400/title"
req POST $B2/collections/a/records '{"data":{"title":"ok","filters":"1 == 1"}}'
h_check "both schemas: valid against both" h_eq "$S" 201
req POST /buckets/off/collections/c/records '{"data":{"other":"bucket"}}'
h_check "a schema set while validation was off applies once it is on" h_eq "$S" 400
req PUT /buckets/off/collections/free ''
req POST /buckets/off/collections/free/records '{"data":{"other":"bucket"}}'
h_check "collections without schema in other buckets are not affected" h_eq "$S" 201

# ---- batch ----
req POST /batch "{\"defaults\":{\"method\":\"POST\",\"path\":\"$R1\"},\"requests\":[{\"body\":{\"data\":{\"title\":\"b1\"}}},{\"body\":{\"data\":{\"body\":\"no title\"}}},{\"body\":{\"data\":{\"title\":\"b3\"}}}]}"
h_check "batch: each sub-request answered on its own" h_eq "$S/$(B 'd.responses.map(r=>r.status).join()')" "200/201,400,201"
h_check "batch: the invalid one has Kinto's error" h_eq "$(B 'd.responses[1].body.errno')/$(B 'd.responses[1].body.details[0].name')" "107/title"
req GET "$R1?title=b3"
h_check "batch: the valid ones are stored" h_eq "$(B 'd.data.length')/$(B 'd.data[0].schema')" "1/$V2"

h_finish
