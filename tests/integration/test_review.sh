#!/usr/bin/env bash
# Remote Settings' review workflow (issue 11, ../shared/REVIEW-HISTORY.md A): settings,
# capabilities, groups created with the source, every status transition and every
# refusal with Remote Settings' status codes, errnos and messages, the tracking fields,
# comments, and Herald's stricter rule: preview and destination are written by the
# workflow only. Races, crashes and "no single account" paths: test_review_race.sh.
source "$(dirname "$0")/../support/harness.sh"

h_start_redis
export HERALD_ACCOUNT_CREATE_PRINCIPALS=system.Everyone
h_start_publisher --signer-to-review-enabled true \
    --signer-resources "/buckets/main-workspace -> /buckets/main-preview -> /buckets/main; /buckets/ws/collections/solo -> /buckets/pub/collections/solo" \
    --signer-to-review-disabled /buckets/ws/collections/solo

req() {
    local user=$1 method=$2 path=$3 body=${4:-}
    rm -f "$H_TMP/body"
    local args=(-s -o "$H_TMP/body" -w '%{http_code}' -X "$method")
    [ "$user" != - ] && args+=(-u "$user")
    [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
    S=$(curl "${args[@]}" "$H_PUB$path")
}
B() { h_json "$1" <"$H_TMP/body"; }
# err: "status/errno/message" of the last answer
err() { echo "$S/$(B d.errno)/$(B d.message)"; }
A=$H_AUTH
for u in alice bob carol eve; do
    curl -s -o /dev/null -X PUT -H 'Content-Type: application/json' \
        --data-binary "{\"data\":{\"password\":\"pw-$u\"}}" "$H_PUB/accounts/$u"
done
AL=alice:pw-alice BO=bob:pw-bob CA=carol:pw-carol EV=eve:pw-eve
WS=/buckets/main-workspace/collections/crl
status() { req $AL GET $WS; B d.data.status; }
patch() { req "$1" PATCH $WS "{\"data\":$2}"; }
ids() { req $A GET "$1/records?_sort=id"; B 'd.data.map(r=>r.id+":"+(r.v??"")).join()'; }

# ---- capability ----
req - GET /
h_check "capabilities.signer: Remote Settings' keys" h_eq "$(B 'Object.keys(d.capabilities.signer).sort().join()')" \
    "description,editors_group,group_check_enabled,plugin_user_id,plugin_userid,resources,reviewers_group,to_review_enabled,url,version"
h_check "capabilities.signer.resources" h_eq "$(B 'JSON.stringify(d.capabilities.signer.resources)')" \
    '[{"destination":{"bucket":"main","collection":null},"preview":{"bucket":"main-preview","collection":null},"source":{"bucket":"main-workspace","collection":null}},{"destination":{"bucket":"pub","collection":"solo"},"source":{"bucket":"ws","collection":"solo"},"to_review_enabled":false}]'
h_check "capabilities.signer: groups, plugin user, review flag" \
    h_eq "$(B '[d.capabilities.signer.editors_group,d.capabilities.signer.reviewers_group,d.capabilities.signer.plugin_user_id,d.capabilities.signer.plugin_userid,d.capabilities.signer.to_review_enabled].join()')" \
    "{collection_id}-editors,{collection_id}-reviewers,plugin:remote-settings,plugin:remote-settings,true"
h_check "Herald's signing keys: capabilities.herald_signatures" h_eq "$(B 'd.capabilities.herald_signatures.mode+Array.isArray(d.capabilities.herald_signatures.public_keys)')" "ed25519true"

# ---- a source collection creates its groups, preview and destination ----
req $A PUT /buckets/main-workspace '{"permissions":{"write":["account:alice"],"collection:create":["account:carol"]}}'
req $CA PUT /buckets/main-workspace/collections/nogroups
h_check "create without group:create: 403/121" h_eq "$(err)" \
    "403/121/Cannot create collection without \`group:create\` on bucket 'main-workspace': editors/reviewers groups cannot be set up."
req $AL PUT $WS '{"data":{"last_edit_by":"me"}}'
h_check "create with a tracking field: 400/109" h_eq "$(err)" "400/109/Cannot change <TRACKING_FIELDS.LAST_EDIT_BY: 'last_edit_by'>"
req $AL PUT $WS '{"data":{"title":"CRL"}}'
h_check "source created: 201, status signed, signature by the workflow" \
    h_eq "$S/$(B 'd.data.status+","+d.data.last_signature_by+","+/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$/.test(d.data.last_signature_date)')" \
    "201/signed,plugin:remote-settings,true"
h_check "the groups can write the source" h_eq "$(B 'd.permissions.write.join()')" \
    "/buckets/main-workspace/groups/crl-editors,/buckets/main-workspace/groups/crl-reviewers,account:alice"
req $AL GET /buckets/main-workspace/groups/crl-editors
h_check "editors group: creator member and writer" h_eq "$(B 'd.data.members.join()+"|"+d.permissions.write.join()')" "account:alice|account:alice"
req $AL GET /buckets/main-workspace/groups/crl-reviewers
h_check "reviewers group: empty" h_eq "$(B 'd.data.members.length')" 0
req - GET /buckets/main/collections/crl
h_check "destination created, readable by everyone" h_eq "$S" 200
req - GET /buckets/main-preview/collections/crl/records
h_check "preview created, empty" h_eq "$S/$(B 'd.data.length')" "200/0"

# ---- preview and destination: the workflow's only ----
for who in $A $AL; do
    req $who PUT /buckets/main/collections/crl/records/x '{"data":{}}'
    h_check "direct write to the destination ($who): 403 naming the source" h_eq "$(err)" \
        "403/121//buckets/main/collections/crl is published by the review workflow only: edit /buckets/main-workspace/collections/crl instead"
done
req $A DELETE /buckets/main/collections/crl
h_check "destination delete: 403" h_eq "$S" 403
req $A DELETE /buckets/main
h_check "destination bucket delete: 403" h_eq "$S" 403
req $A PATCH /buckets/main-preview/collections/crl '{"data":{"x":1}}'
h_check "preview change: 403" h_eq "$S" 403
req $A POST /buckets/main/collections '{"data":{"id":"sneaky"}}'
h_check "new collection in a destination bucket: 403" h_eq "$S" 403
req $A POST /batch '{"requests":[{"method":"PUT","path":"/buckets/main/collections/crl/records/y","body":{"data":{}}}]}'
h_check "... also inside a batch" h_eq "$(B 'd.responses[0].status')" 403

# ---- editing: work-in-progress ----
req $AL PUT $WS/records/r1 '{"data":{"v":1}}'
req $AL PUT $WS/records/r2 '{"data":{"v":1}}'
req $AL GET $WS
h_check "a record edit sets work-in-progress, last_edit_by/date" \
    h_eq "$(B 'd.data.status+","+d.data.last_edit_by+","+/\+00:00$/.test(d.data.last_edit_date)')" "work-in-progress,account:alice,true"
patch $AL '{"last_edit_by":"account:bob"}'
h_check "PATCH of a tracking field: 400/109" h_eq "$(err)" "400/109/Cannot change <TRACKING_FIELDS.LAST_EDIT_BY: 'last_edit_by'>"
req $AL PUT $WS '{"data":{"status":"work-in-progress"}}'
h_check "PUT dropping the tracking fields: 400/109" h_eq "$(err)" "400/109/Cannot change <TRACKING_FIELDS.LAST_EDIT_BY: 'last_edit_by'>"
req $AL GET $WS
req $AL PUT $WS "$(B 'JSON.stringify({data:Object.fromEntries(Object.entries(d.data).filter(([k])=>k!="status"&&k!="last_modified"))})')"
h_check "PUT without status: 400/109 Cannot remove status" h_eq "$(err)" "400/109/Cannot remove status"
patch $AL '{"status":"signed"}'
h_check "status signed by a client: 400/109" h_eq "$(err)" "400/109/Cannot set status to 'signed'"
patch $AL '{"status":"foo"}'
h_check "unknown status: 400/109" h_eq "$(err)" "400/109/Invalid status 'foo'"
patch $AL '{"status":""}'
h_check "empty status: 400/109" h_eq "$(err)" "400/109/Invalid status ''"
patch $AL '{"status":"to-sign"}'
h_check "to-sign by a non-reviewer: 403/121" h_eq "$(err)" "403/121/Not in crl-reviewers group"
req $AL PATCH /buckets/main-workspace/groups/crl-reviewers '{"data":{"members":["account:bob","account:alice"]}}'
req $AL PATCH /buckets/main-workspace '{"permissions":{"write":["account:alice","account:bob","account:eve"]}}'
patch $BO '{"status":"to-sign"}'
h_check "to-sign of work-in-progress: 400/109 not under review" h_eq "$(err)" "400/109/Collection not under review"
patch $BO '{"status":"to-review"}'
h_check "to-review by a non-editor: 403/121" h_eq "$(err)" "403/121/Not in crl-editors group"
h_check "refusals change nothing" h_eq "$(status)" "work-in-progress"
patch $AL '{"status":"work-in-progress"}'
h_check "same status: a no-op 200" h_eq "$S/$(B d.data.status)" "200/work-in-progress"

# ---- to-review pushes to the preview ----
patch $AL '{"status":"to-review","last_editor_comment":"please"}'
h_check "to-review: 200, requester and date, comment kept" \
    h_eq "$S/$(B 'd.data.status+","+d.data.last_review_request_by+","+/\+00:00$/.test(d.data.last_review_request_date)+","+d.data.last_editor_comment')" \
    "200/to-review,account:alice,true,please"
h_check "to-review: preview holds the source" h_eq "$(ids /buckets/main-preview/collections/crl)" "r1:1,r2:1"
h_check "to-review: destination untouched" h_eq "$(ids /buckets/main/collections/crl)" ""
patch $AL '{"status":"to-sign"}'
h_check "the requester cannot approve, even as a reviewer: 403/121" h_eq "$(err)" "403/121/Last editor cannot review"

# ---- decline: back to work-in-progress ----
patch $BO '{"status":"work-in-progress","last_reviewer_comment":"no"}'
h_check "decline: work-in-progress, comment, preview kept" \
    h_eq "$S/$(B 'd.data.status+","+d.data.last_reviewer_comment')/$(ids /buckets/main-preview/collections/crl)" "200/work-in-progress,no/r1:1,r2:1"
patch $AL '{"status":"to-review"}'
h_check "to-review again resets the editor comment" h_eq "$(B 'JSON.stringify(d.data.last_editor_comment)')" '""'

# ---- an edit cancels the review ----
req $AL PATCH $WS/records/r2 '{"data":{"v":2}}'
h_check "edit during review: work-in-progress" h_eq "$(status)" "work-in-progress"
patch $BO '{"status":"to-sign"}'
h_check "... the pending approval is refused" h_eq "$(err)" "400/109/Collection not under review"
h_check "... the preview keeps the reviewed content" h_eq "$(ids /buckets/main-preview/collections/crl)" "r1:1,r2:1"

# ---- approve ----
patch $AL '{"status":"to-review"}'
req $AL GET $WS
REQ_DATE=$(B d.data.last_review_request_date)
patch $BO '{"status":"to-sign","last_reviewer_comment":""}'
h_check "to-sign: 200 signed, reviewer and signature fields" \
    h_eq "$S/$(B 'd.data.status+","+d.data.last_review_by+","+d.data.last_signature_by+","+(d.data.last_review_date==d.data.last_signature_date)')" \
    "200/signed,account:bob,account:bob,true"
h_check "to-sign: request fields kept" h_eq "$(B 'd.data.last_review_request_by+","+d.data.last_review_request_date')" "account:alice,$REQ_DATE"
h_check "to-sign: destination = source" h_eq "$(ids /buckets/main/collections/crl)" "r1:1,r2:2"
h_check "to-sign: preview = source" h_eq "$(ids /buckets/main-preview/collections/crl)" "r1:1,r2:2"
patch $BO '{"status":"signed"}'
h_check "signed -> signed: a no-op 200" h_eq "$S/$(B d.data.status)" "200/signed"
req $AL GET $WS
patch $BO '{"status":"to-review"}'
patch $AL '{"status":"to-sign"}'
h_check "to-sign of signed: 400 Collection already signed (checked first)" h_eq "$(err)" "400/109/Collection already signed"
patch $AL '{"status":"to-rollback"}'
h_check "to-rollback of signed: 400/109" h_eq "$(err)" "400/109/Collection has no work-in-progress"

# ---- rollback ----
req $AL DELETE $WS/records/r1
req $AL PUT $WS/records/r3 '{"data":{"v":3}}'
req $AL PATCH $WS/records/r2 '{"data":{"v":9}}'
patch $AL '{"status":"to-review","last_editor_comment":"x"}'
patch $EV '{"status":"to-rollback"}'
h_check "to-rollback: 200 signed, comments reset, last_edit_by the caller" \
    h_eq "$S/$(B 'd.data.status+","+JSON.stringify(d.data.last_editor_comment)+","+JSON.stringify(d.data.last_reviewer_comment)+","+d.data.last_edit_by')" \
    '200/signed,"","",account:eve'
h_check "to-rollback: source = destination (deleted back, extra gone, change undone)" h_eq "$(ids $WS)" "r1:1,r2:2"
h_check "to-rollback: preview = destination" h_eq "$(ids /buckets/main-preview/collections/crl)" "r1:1,r2:2"
req $AL GET "$WS/records?_since=0&deleted=true"
h_check "to-rollback: the removed record left a tombstone" h_eq "$(B 'd.data.filter(r=>r.deleted).map(r=>r.id).join()')" "r3"

# ---- resign ----
req $AL GET $WS
BEFORE=$(B 'd.data.last_signature_date')
req $A GET /buckets/main/collections/crl/records
DST_ETAG=$(B 'd.data.map(r=>r.last_modified).join()')
patch $EV '{"status":"to-resign"}'
h_check "to-resign: status back to the old one, signature fields" \
    h_eq "$S/$(B 'd.data.status+","+d.data.last_signature_by+","+(d.data.last_signature_date!="'"$BEFORE"'")')" "200/signed,account:eve,true"
h_check "to-resign: destination records untouched" h_eq "$(req $A GET /buckets/main/collections/crl/records; B 'd.data.map(r=>r.last_modified).join()')" "$DST_ETAG"

# ---- review off for one resource (opt-out), no preview ----
req $A PUT /buckets/ws '{"permissions":{"write":["account:carol"]}}'
req $CA PUT /buckets/ws/collections/solo
req $CA PUT /buckets/ws/collections/solo/records/a '{"data":{"v":1}}'
req $CA PATCH /buckets/ws/collections/solo '{"data":{"status":"to-review"}}'
h_check "no preview: to-review only sets the request fields" h_eq "$S/$(B 'd.data.status+","+d.data.last_review_request_by')" "200/to-review,account:carol"
req $CA PATCH /buckets/ws/collections/solo '{"data":{"status":"to-sign"}}'
h_check "review off: the requester may approve; destination published" \
    h_eq "$S/$(B d.data.status)/$(ids /buckets/pub/collections/solo)" "200/signed/a:1"
req $CA PUT /buckets/ws/collections/solo/records/b '{"data":{"v":1}}'
req $CA PATCH /buckets/ws/collections/solo '{"data":{"status":"to-sign"}}'
h_check "review off: to-sign straight from work-in-progress" h_eq "$S/$(ids /buckets/pub/collections/solo)" "200/a:1,b:1"

# ---- workflow writes in the history ----
req $A GET '/buckets/main/history?resource_name=record&_sort=last_modified'
h_check "destination history: copies attributed to the workflow" \
    h_eq "$(B 'd.data.map(e=>e.record_id+":"+e.action+":"+e.user_id).join()')" \
    "r1:create:plugin:remote-settings,r2:create:plugin:remote-settings"
req $A GET '/buckets/main-workspace/history?collection_id=crl&resource_name=collection&target.data.status=signed&_sort=last_modified'
h_check "source history: creation, approval, rollback, resign (Admin's approvals query)" \
    h_eq "$(B 'd.data.map(e=>e.user_id).join()')" "account:alice,account:bob,account:eve,account:eve"
h_finish
