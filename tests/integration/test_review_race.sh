#!/usr/bin/env bash
# The review workflow under races and crashes (issue 11): concurrent approvals (exactly
# one wins), edits racing an approval (the destination only ever holds reviewed
# content), every path by which a single account could take a change from the source to
# the destination (own approval, edit then approve, admin, batches, group membership
# changes), and kill -9 of the publisher and of Redis during approvals: no acknowledged
# transition is lost and the destination is never half-copied.
source "$(dirname "$0")/../support/harness.sh"

h_start_redis
export HERALD_ACCOUNT_CREATE_PRINCIPALS=system.Everyone
PUB_ARGS=(--signer-to-review-enabled true)
h_start_publisher "${PUB_ARGS[@]}"

req() {
    local user=$1 method=$2 path=$3 body=${4:-}
    rm -f "$H_TMP/body"
    local args=(-s -o "$H_TMP/body" -w '%{http_code}' -X "$method")
    [ "$user" != - ] && args+=(-u "$user")
    [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
    S=$(curl "${args[@]}" "$H_PUB$path")
}
B() { h_json "$1" <"$H_TMP/body"; }
A=$H_AUTH
for u in alice bob carol; do
    curl -s -o /dev/null -X PUT -H 'Content-Type: application/json' \
        --data-binary "{\"data\":{\"password\":\"pw-$u\"}}" "$H_PUB/accounts/$u"
done
AL=alice:pw-alice BO=bob:pw-bob CA=carol:pw-carol
WS=/buckets/main-workspace/collections/crl
DST=/buckets/main/collections/crl
PRV=/buckets/main-preview/collections/crl
recs() { curl -s -u "$A" "$H_PUB$1/records?_sort=id" | h_json 'd.data.map(r=>r.id+":"+r.v).join()'; }
status() { curl -s -u "$A" "$H_PUB$WS" | h_json d.data.status; }
patch() { req "$1" PATCH $WS "{\"data\":{\"status\":\"$2\"}}"; }

req $A PUT /buckets/main-workspace '{"permissions":{"write":["account:alice","account:bob","account:carol"]}}'
req $AL PUT $WS
req $AL PATCH /buckets/main-workspace/groups/crl-reviewers '{"data":{"members":["account:bob","account:carol"]}}'

# ---- concurrent approvals: exactly one wins ----
ok=1
for i in $(seq 1 5); do
    req $AL PUT $WS/records/r "{\"data\":{\"v\":$i}}"
    patch $AL to-review
    (curl -s -o /dev/null -w '%{http_code}\n' -u $BO -X PATCH -H 'Content-Type: application/json' \
        --data-binary '{"data":{"status":"to-sign"}}' "$H_PUB$WS" >"$H_TMP/a1") &
    p1=$!
    (curl -s -o /dev/null -w '%{http_code}\n' -u $CA -X PATCH -H 'Content-Type: application/json' \
        --data-binary '{"data":{"status":"to-sign"}}' "$H_PUB$WS" >"$H_TMP/a2") &
    wait $p1 $!
    got="$(sort "$H_TMP/a1" "$H_TMP/a2" | tr '\n' ' ')"
    [ "$got" = "200 400 " ] || { h_log "round $i: $got"; ok=0; }
    [ "$(recs $DST)" = "r:$i" ] || { h_log "round $i: destination $(recs $DST)"; ok=0; }
done
h_check "concurrent approvals x5: one 200, one 400, destination = source" test $ok = 1

# ---- an edit racing an approval: only reviewed content is published ----
ok=1
for i in $(seq 1 6); do
    req $AL PUT $WS/records/r "{\"data\":{\"v\":$((100 + i))}}"
    patch $AL to-review
    REVIEWED=$(recs $PRV)
    BEFORE=$(recs $DST)
    (curl -s -o /dev/null -u $BO -X PATCH -H 'Content-Type: application/json' \
        --data-binary '{"data":{"status":"to-sign"}}' "$H_PUB$WS") &
    p1=$!
    (curl -s -o /dev/null -u $AL -X PUT -H 'Content-Type: application/json' \
        --data-binary "{\"data\":{\"v\":$((200 + i))}}" "$H_PUB$WS/records/r") &
    wait $p1 $!
    NOW=$(recs $DST)
    { [ "$NOW" = "$REVIEWED" ] || [ "$NOW" = "$BEFORE" ]; } || { h_log "round $i: published $NOW (reviewed $REVIEWED)"; ok=0; }
    [ "$(status)" = work-in-progress ] || { h_log "round $i: status $(status)"; ok=0; }
    # Leave it signed for the next round.
    patch $AL to-review
    patch $BO to-sign
done
h_check "edits racing approvals x6: destination holds reviewed content only" test $ok = 1

# ---- no single account takes a change to the destination ----
published() { recs $DST; }
BASE=$(published)
req $AL PUT $WS/records/evil '{"data":{"v":666}}'
patch $AL to-review
req $AL PATCH /buckets/main-workspace/groups/crl-reviewers '{"data":{"members":["account:bob","account:carol","account:alice"]}}'
patch $AL to-sign
h_check "editor joins the reviewers during review, then approves own request: 403" \
    h_eq "$S/$(B d.message)" "403/Last editor cannot review"
req $AL PATCH $WS '{"data":{"last_review_request_by":"account:bob"}}'
h_check "editor rewrites the requester: 400" h_eq "$S" 400
req $AL POST /batch "{\"requests\":[{\"method\":\"PUT\",\"path\":\"$WS/records/evil2\",\"body\":{\"data\":{\"v\":7}}},{\"method\":\"PATCH\",\"path\":\"$WS\",\"body\":{\"data\":{\"status\":\"to-review\"}}},{\"method\":\"PATCH\",\"path\":\"$WS\",\"body\":{\"data\":{\"status\":\"to-sign\"}}}]}"
h_check "batch: edit, request, approve by one account: the approval is refused" \
    h_eq "$(B 'd.responses.map(r=>r.status).join()')/$(B 'd.responses[2].body.message')" "201,200,403/Last editor cannot review"
# bob (reviewer) edits then approves: his edit cancels the review.
req $BO POST /batch "{\"requests\":[{\"method\":\"PUT\",\"path\":\"$WS/records/bobs\",\"body\":{\"data\":{\"v\":1}}},{\"method\":\"PATCH\",\"path\":\"$WS\",\"body\":{\"data\":{\"status\":\"to-sign\"}}}]}"
h_check "batch: reviewer edits then approves: 400 not under review" \
    h_eq "$(B 'd.responses.map(r=>r.status).join()')/$(B 'd.responses[1].body.message')" "201,400/Collection not under review"
req $AL PATCH /buckets/main-workspace/groups/crl-editors '{"data":{"members":["account:alice","account:bob"]}}'
patch $BO to-review
patch $BO to-sign
h_check "reviewer who is also editor approves own request: 403" h_eq "$S/$(B d.message)" "403/Last editor cannot review"
# admin: superuser for permissions, but not for the two-person rule.
req $A PATCH /buckets/main-workspace/groups/crl-editors '{"data":{"members":["account:alice","account:bob","account:admin"]}}'
req $A PATCH /buckets/main-workspace/groups/crl-reviewers '{"data":{"members":["account:bob","account:carol","account:admin"]}}'
req $A PUT $WS/records/admins '{"data":{"v":1}}'
patch $A to-review
patch $A to-sign
h_check "admin requests and approves: 403" h_eq "$S/$(B d.message)" "403/Last editor cannot review"
req $A PUT $DST/records/evil '{"data":{"v":666}}'
h_check "admin writes the destination: 403" h_eq "$S" 403
req $A PUT /buckets/main '{"data":{}}'
h_check "admin replaces the destination bucket: 403" h_eq "$S" 403
req $A POST /batch "{\"requests\":[{\"method\":\"DELETE\",\"path\":\"$DST\"},{\"method\":\"PUT\",\"path\":\"$DST/records/evil\",\"body\":{\"data\":{}}}]}"
h_check "admin batch on the destination: 403s" h_eq "$(B 'd.responses.map(r=>r.status).join()')" "403,403"
h_check "after all that: the destination is unchanged" h_eq "$(published)" "$BASE"
patch $CA to-sign
h_check "a second account approves: published" h_eq "$S/$(published | tr ',' '\n' | grep -c evil)" "200/2"

# ---- kill -9 during approvals ----
# Each round: a reviewed change, an approval, and a kill -9 at a random moment. After
# the restart: if the approval was acknowledged the collection is signed; the destination
# equals either the source at the approved moment or the previous destination: never a
# mixture.
crash_rounds() { # WHAT
    local ok=1 i code
    for i in $(seq 1 4); do
        req $AL PUT $WS/records/k "{\"data\":{\"v\":$i}}"
        req $AL PUT $WS/records/k$i "{\"data\":{\"v\":$i}}"
        patch $AL to-review
        local reviewed before
        reviewed=$(recs $WS)
        before=$(recs $DST)
        curl -s -o /dev/null -w '%{http_code}' -u $BO -X PATCH -H 'Content-Type: application/json' \
            --data-binary '{"data":{"status":"to-sign"}}' "$H_PUB$WS" >"$H_TMP/code" &
        local cpid=$!
        sleep "0.0$((RANDOM % 3))"
        if [ "$1" = publisher ]; then
            kill -9 "$H_PUB_PID"
            wait "$H_PUB_PID" 2>/dev/null || true
        else
            kill -9 "$H_REDIS_PID"
            wait "$H_REDIS_PID" 2>/dev/null || true
            h_start_redis
        fi
        wait "$cpid" || true
        code=$(cat "$H_TMP/code")
        [ "$1" = publisher ] && h_start_publisher "${PUB_ARGS[@]}"
        h_wait_for 20 bash -c "curl -sf -u '$A' '$H_PUB$WS' >/dev/null"
        local st now
        st=$(status)
        now=$(recs $DST)
        if [ "$code" = 200 ] && [ "$st" != signed ]; then h_log "$1 round $i: acknowledged approval lost ($st)"; ok=0; fi
        if [ "$st" = signed ] && [ "$now" != "$reviewed" ]; then h_log "$1 round $i: signed but destination $now != $reviewed"; ok=0; fi
        if [ "$st" = to-review ] && [ "$now" != "$before" ]; then h_log "$1 round $i: not signed but destination changed"; ok=0; fi
        if [ "$st" != signed ] && [ "$st" != to-review ]; then h_log "$1 round $i: status $st"; ok=0; fi
        [ "$st" = signed ] || patch $BO to-sign
    done
    test $ok = 1
}
h_check "kill -9 of the publisher during approvals x4: all or nothing" crash_rounds publisher
h_check "kill -9 of Redis during approvals x4: all or nothing, acknowledged kept" crash_rounds redis
h_finish
