#!/usr/bin/env bash
# Nothing is dropped on SIGTERM (issue 6). The publisher is stopped while requests are in
# flight (each needs an argon2id check, ~100 ms, on a worker thread): every request it
# accepted gets its whole answer, every acknowledged write is in Redis, and it exits by
# itself. The signer, stopped in the middle of a burst, exits promptly and a restarted
# signer publishes the latest state.
source "$(dirname "$0")/../support/harness.sh"

# The writers below come from distinct addresses (X-Forwarded-For), so the login throttle
# does not answer some of them at once with 429 before SIGTERM comes.
export HERALD_TRUSTED_FORWARDED_FOR_DEPTH=1
h_start_pipeline

h_check "setup" h_eq "$(h_put /accounts/alice '{"data":{"password":"alice-pw-123"}}')$(h_put /buckets/b '{"data":{},"permissions":{"read":["system.Everyone"],"write":["account:alice"]}}')$(h_put /buckets/b/collections/c '{"data":{}}')" 201201201

# 16 writers as alice, each with a password variant the credential cache has not seen
# (alice, then wrong passwords that also cost one argon2id check), all at once.
N=16
writers=()
for i in $(seq 1 $N); do
    pw=alice-pw-123
    [ $((i % 4)) = 0 ] && pw=wrong-$i
    curl -s -m 30 -o "$H_TMP/w$i.body" -w '%{http_code} %{exitcode}' -u "alice:$pw" -X PUT \
        -H "X-Forwarded-For: 10.88.0.$i" -H 'Content-Type: application/json' --data-binary "{\"data\":{\"i\":$i}}" \
        "$H_PUB/buckets/b/collections/c/records/w$i" >"$H_TMP/w$i.out" 2>/dev/null &
    writers+=($!)
done
sleep 0.5
kill -TERM "$H_PUB_PID"
t0=$SECONDS
wait "$H_PUB_PID" && pub_rc=0 || pub_rc=$?
h_log "publisher exited with status $pub_rc after $((SECONDS - t0)) s"
wait "${writers[@]}" || true
h_check "publisher exits cleanly by itself" h_eq "$pub_rc" 0
inflight=$(sed -n 's/.*shutting down after \([0-9]*\) request.*/\1/p' "$H_TMP/publisher.log" | tail -1)
h_log "requests in flight at SIGTERM: ${inflight:-?}"
h_check "requests were in flight when SIGTERM came" [ "${inflight:-0}" -gt 0 ]
dropped=0 acked=0 refused=0
for i in $(seq 1 $N); do
    read -r code ec <"$H_TMP/w$i.out" || true
    case "$ec" in
    0) [ "$code" = 201 ] && acked=$((acked + 1)) ;;
    7) refused=$((refused + 1)) ;; # not accepted: the listener was closed
    *) dropped=$((dropped + 1)); h_log "     w$i: curl exit $ec, status $code" ;;
    esac
    if [ "$code" = 201 ]; then
        h_check "acknowledged write w$i is in Redis" h_eq "$(h_redis HEXISTS 'herald:objs:/buckets/b/collections/c:record' w$i)" 1
    fi
done
h_log "writers: $acked acknowledged, $refused refused at connect, $dropped dropped"
h_check "no accepted request was dropped" h_eq "$dropped" 0

# The signer: stopped during a burst, it exits promptly; restarted, it catches up.
h_start_publisher
writers=()
for i in $(seq 1 40); do
    h_put "/buckets/b/collections/c/records/s$i" "{\"data\":{\"n\":$i}}" >/dev/null &
    writers+=($!)
done
sleep 0.1
kill -TERM "$H_SIGNER_PID"
t0=$SECONDS
wait "$H_SIGNER_PID" && sig_rc=0 || sig_rc=$?
h_check "signer exits cleanly within 5 s of SIGTERM" bash -c "[ $sig_rc = 0 ] && [ $((SECONDS - t0)) -le 5 ]"
wait "${writers[@]}" || true
h_start_signer
h_check "restarted signer publishes the latest state" h_wait_for 30 bash -c "[ \"\$(redis-cli -p $H_REDIS_PORT ZSCORE herald:monitor b/c)\" -ge \"\$(redis-cli -p $H_REDIS_PORT GET 'herald:ts:/buckets/b/collections/c:record')\" ]"
h_finish
