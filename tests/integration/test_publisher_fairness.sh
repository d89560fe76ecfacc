#!/usr/bin/env bash
# An urgent edit is not queued behind other clients' batches (issue 13): the publisher
# runs a batch's sub-requests one per turn of its event loop, after the requests that
# arrived meanwhile (publisher/fairq.h), so a single-record PUT sent while several batches
# are queued is applied and answered before the last of them, and the batches share the
# store round robin. Checked by order and counts only, never by time: the order in which
# the responses completed, and the last_modified of every write (strictly increasing
# within the collection in the order Redis applied them). Before the fix, the PUT came
# after every batch read before it: no batch write was applied after it, and each batch
# ran alone.
source "$(dirname "$0")/../support/harness.sh"

NB=5      # batches queued at once, each on its own connection
SIZE=50   # record PUTs per batch

h_start_redis
h_start_publisher --batch_max_requests "$SIZE"
h_check "bucket (201)" h_eq "$(h_put /buckets/fair '{"data":{}}')" 201
h_check "collection (201)" h_eq "$(h_put /buckets/fair/collections/c '{"data":{}}')" 201

node "$H_SRC/tests/support/batch_fairness.cjs" 127.0.0.1 "$H_PUB_PORT" "$H_AUTH" "$NB" "$SIZE" >"$H_TMP/fair.json"
F() { h_json "$1" <"$H_TMP/fair.json"; }
h_log "     completion order: $(F 'd.order.join(" ")')"

h_check "every batch 200, the single PUT 201" h_eq "$(F 'd.statuses.join(",")')" "200,200,200,200,200,201"
h_check "every sub-request created its record (201)" \
    h_eq "$(F 'd.batches.flat().filter(s => s.status === 201 && s.lm > 0).length')" "$((NB * SIZE))"
h_check "all $((NB * SIZE + 1)) writes have distinct timestamps" \
    h_eq "$(F 'new Set([d.urgent, ...d.batches.flat().map(s => s.lm)]).size')" "$((NB * SIZE + 1))"
h_check "the single PUT was answered before the last batch" \
    h_eq "$(F 'd.order.indexOf("urgent") < d.order.length - 1')" true
after=$(F 'd.batches.flat().filter(s => s.lm > d.urgent).length')
h_log "     batch writes applied after the single PUT: $after of $((NB * SIZE))"
# It was sent right after the batches, so it overtakes nearly all of their sub-requests;
# a whole batch's worth is a bound far from that (and from 0, where it was before).
h_check "more than one batch's worth of batch writes were applied after the single PUT" \
    test "$after" -gt "$SIZE"
# Round robin: every batch's writes are interleaved with other batches' writes.
h_check "no batch ran alone: each has other batches' writes between its first and last" \
    h_eq "$(F '
        d.batches.every((b, i) => {
            const lo = Math.min(...b.map(s => s.lm)), hi = Math.max(...b.map(s => s.lm));
            return d.batches.some((o, j) => j !== i && o.some(s => s.lm > lo && s.lm < hi));
        })')" true
h_check "in each batch, the sub-requests were applied in their order" \
    h_eq "$(F 'd.batches.every(b => b.every((s, k) => k === 0 || s.lm > b[k - 1].lm))')" true

h_log "     batches queued (herald_publisher_batches_queued) after the single PUT's answer: $(F d.queued)"
h_check "/metrics showed batches still queued after the single PUT's answer" \
    h_eq "$(F 'd.queued >= 1 && d.queued <= '"$NB")" true
h_check "/metrics shows no batch queued once all are answered" \
    h_eq "$(curl -s "http://127.0.0.1:$H_PUB_PORT/metrics" | awk '$1 == "herald_publisher_batches_queued" { print $2 }')" 0

h_pub GET "/buckets/fair/collections/c/records?_limit=1" >/dev/null
h_check "the collection holds every record" \
    h_eq "$(tr -d '\r' <"$H_TMP/pub.h" | sed -n 's/^[Tt]otal-[Rr]ecords: *//p')" "$((NB * SIZE + 1))"

# SIGTERM while batches are queued: the publisher drains (httpd.h), so every batch it
# accepted runs to its end and gets its whole answer before it exits by itself.
BIG=600
kill -TERM "$H_PUB_PID"
wait "$H_PUB_PID" || true
h_start_publisher --batch_max_requests "$BIG"
posts=()
for i in 1 2 3; do
    node -e 'const [i, n] = process.argv.slice(1).map(Number);
        const requests = [];
        for (let j = 0; j < n; j++)
            requests.push({ method: "PUT", path: `/buckets/fair/collections/c/records/t${i}-${j}`, body: { data: { j } } });
        console.log(JSON.stringify({ requests }));' "$i" "$BIG" >"$H_TMP/big$i.json"
done
for i in 1 2 3; do
    curl -s -m 300 -o "$H_TMP/big$i.body" -w '%{http_code} %{exitcode}' -u "$H_AUTH" -X POST \
        -H 'Content-Type: application/json' --data-binary "@$H_TMP/big$i.json" "$H_PUB/batch" \
        >"$H_TMP/big$i.out" 2>/dev/null &
    posts+=($!)
done
queued() { [ "$(curl -s "http://127.0.0.1:$H_PUB_PORT/metrics" | awk '$1 == "herald_publisher_batches_queued" { print $2 }')" -ge 1 ]; }
h_check "batches are queued" h_wait_for 30 queued
kill -TERM "$H_PUB_PID"
wait "$H_PUB_PID" && pub_rc=0 || pub_rc=$?
wait "${posts[@]}" || true
h_check "publisher exits cleanly by itself" h_eq "$pub_rc" 0
answered=0
for i in 1 2 3; do
    read -r code ec <"$H_TMP/big$i.out" || true
    h_log "     batch t$i: status $code, curl exit $ec"
    if [ "$ec" = 7 ]; then continue; fi # not accepted: the listener was closed
    h_check "batch t$i accepted before SIGTERM was answered whole (200, $BIG x 201)" \
        h_eq "$code/$(h_json 'd.responses.filter(r => r.status === 201).length' <"$H_TMP/big$i.body")" "200/$BIG"
    answered=$((answered + 1))
done
h_check "at least one queued batch was answered after SIGTERM" test "$answered" -ge 1
h_check "every answered write is in Redis" \
    h_eq "$(h_redis HLEN 'herald:objs:/buckets/fair/collections/c:record')" "$((NB * SIZE + 1 + answered * BIG))"

h_finish
