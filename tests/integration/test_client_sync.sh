#!/usr/bin/env bash
# The C client (`herald`, on libherald_client) against a real publisher, signer and read
# server, directly and through tests/node/client_proxy.mjs, a real proxy process that
# corrupts, truncates, replays or stalls what the server answers, or adds Backoff and
# Retry-After. Checks: first sync, delta sync after edits and deletions (records equal
# to the server's full changeset), the record filter, tampered / truncated / replayed
# (rollback) / stalled answers refused with the last verified copy kept, a one-time
# tamper healed by the full refetch, Backoff and Retry-After honoured (no request while
# they run), and a packaged dump seeding a fresh client with no request.
source "$(dirname "$0")/../support/harness.sh"

HERALD=$H_BUILD/client/herald
h_start_pipeline

P_PORT=$(h_free_port)
MODE=$H_TMP/proxy.mode
PLOG=$H_TMP/proxy.reqs
echo pass >"$MODE"
: >"$PLOG"
node "$H_SRC/tests/node/client_proxy.mjs" "$P_PORT" "http://127.0.0.1:$H_SRV_PORT/v1" "$MODE" "$PLOG" \
    2>>"$H_TMP/proxy.log" &
H_PIDS+=("$!")
h_wait_port "$P_PORT" 20 "$!" "$H_TMP/proxy.log"
PROXY="http://127.0.0.1:$P_PORT/v1"
CS="$H_SRV/buckets/main/collections/certs/changeset"

served() { [ "$(h_etag "$CS")" = "$1" ]; }
put_rec() { h_pub PUT "/buckets/main/collections/certs/records/$1" "$2" >"$H_TMP/last"; h_json d.data.last_modified <"$H_TMP/last"; }
# The server's full changeset's records, sorted by id, compact: what the client must hold.
server_records() { curl -s "$CS" | node -e 'const d=JSON.parse(require("fs").readFileSync(0,"utf8"));const r=d.changes.sort((a,b)=>a.id<b.id?-1:a.id>b.id?1:0);console.log(JSON.stringify(r))'; }
# herald show's records line, re-serialized by Node the same way.
client_records() { "$HERALD" show --state "$1" --public-key "$H_PUBKEY" main/certs | sed -n 2p | node -e 'console.log(JSON.stringify(JSON.parse(require("fs").readFileSync(0,"utf8"))))'; }
sync() { local dir=$1; shift; "$HERALD" sync "$@" --public-key "$H_PUBKEY" --state "$dir" --retries 1 --timeout-ms 3000 main/certs; }
field() { sed -n "s/^main\/certs .*$1=\([^ ]*\).*/\1/p"; }

h_check "collection created" h_eq "$(h_public_collection main certs)" 201201
put_rec a '{"data":{"name":"alpha","kind":"x"}}' >/dev/null
put_rec b '{"data":{"name":"beta","kind":"y","n":[1.5,1e-7,1e21]}}' >/dev/null
V1=$(put_rec c '{"data":{"name":"gamma ✓","kind":"x"}}')
h_check "v1 served" h_wait_for 20 served "$V1"

# First sync, directly from the read server.
S=$H_TMP/state
out=$(sync "$S" "$H_SRV")
h_check "first sync ok" h_eq "$(echo "$out" | field status)" ok
h_check "first sync at v1" h_eq "$(echo "$out" | field version)" "$V1"
h_check "first sync holds 3 records" h_eq "$(echo "$out" | field records)" 3
h_check "records equal the server's" h_eq "$(client_records "$S")" "$(server_records)"
h_check "state file written" test -s "$S/main/certs.json"
# The proxy keeps this full v1 changeset to replay later.
curl -s -o /dev/null "$PROXY/buckets/main/collections/certs/changeset"

# Edits and a deletion, then a delta sync through the proxy.
put_rec a '{"data":{"name":"alpha 2","kind":"y"}}' >/dev/null
put_rec d '{"data":{"name":"delta","kind":"x"}}' >/dev/null
h_pub DELETE /buckets/main/collections/certs/records/b >"$H_TMP/last"
V2=$(h_json d.data.last_modified <"$H_TMP/last")
h_check "v2 served" h_wait_for 20 served "$V2"
out=$(sync "$S" "$PROXY")
h_check "delta sync ok" h_eq "$(echo "$out" | field status)" ok
h_check "delta sync at v2" h_eq "$(echo "$out" | field version)" "$V2"
h_check "delta asked with _since=v1 and _expected=v2" grep -q "certs/changeset?_expected=$V2&_since=$V1" "$PLOG"
h_check "and nothing else of the collection" h_eq "$(grep -c 'certs/changeset?' "$PLOG")" 1
h_check "records after the delta equal the server's" h_eq "$(client_records "$S")" "$(server_records)"
ids=$("$HERALD" show --state "$S" --public-key "$H_PUBKEY" --filter kind=x main/certs | sed -n 2p | h_json 'd.map(r=>r.id).join(",")')
h_check "the filter keeps only kind=x" h_eq "$ids" "c,d"
out=$(sync "$S" "$PROXY")
h_check "nothing new: ok, no changeset request" h_eq "$(grep -c 'certs/changeset?' "$PLOG")" 1

# A tampered delta, then a tampered full changeset: refused, v2 kept.
put_rec e '{"data":{"name":"epsilon"}}' >/dev/null
V3=$(put_rec c '{"data":{"name":"gamma 3","kind":"x"}}')
h_check "v3 served" h_wait_for 20 served "$V3"
before=$(client_records "$S")
for m in tamper truncate replay; do
    echo "$m" >"$MODE"
    out=$(sync "$S" "$PROXY" || true)
    h_check "$m: refused" test "$(echo "$out" | field status)" != ok
    h_check "$m: last verified copy (v2) kept" h_eq "$(echo "$out" | field version)" "$V2"
    h_check "$m: stored state unchanged" h_eq "$(client_records "$S")" "$before"
done
h_check "tamper is reported as invalid" bash -c "echo tamper >'$MODE'; '$HERALD' sync '$PROXY' --public-key '$H_PUBKEY' --state '$S' main/certs | grep -q 'status=invalid'"
h_check "a replayed older changeset is reported as rollback" bash -c "echo replay >'$MODE'; '$HERALD' sync '$PROXY' --public-key '$H_PUBKEY' --state '$S' main/certs | grep -q 'status=rollback'"
echo stall >"$MODE"
out=$("$HERALD" sync "$PROXY" --public-key "$H_PUBKEY" --state "$S" --retries 0 --timeout-ms 500 main/certs || true)
h_check "stalled answer: network error, v2 kept" h_eq "$(echo "$out" | field status)/$(echo "$out" | field version)" "network/$V2"
# A tamper on the delta only: the full refetch verifies.
echo tamper_once >"$MODE"
out=$(sync "$S" "$PROXY")
h_check "one tampered delta: the full refetch heals it" h_eq "$(echo "$out" | field status)/$(echo "$out" | field version)" "ok/$V3"
h_check "one verify failure counted" h_eq "$(echo "$out" | sed -n 's/.*verify_failures=\([0-9]*\).*/\1/p')" 1
h_check "records at v3 equal the server's" h_eq "$(client_records "$S")" "$(server_records)"
h_check "a wrong key never accepts" bash -c "'$HERALD' sync '$H_SRV' --public-key '$("$H_BUILD/signer/herald-signer" keygen --out "$H_TMP/other.key")' --state '$H_TMP/wrongkey' main/certs | grep -q 'version=0 records=0 status=unknown_key'"

# Backoff: the answer is used, then no request until it ends (persisted across runs).
echo "backoff 60" >"$MODE"
V4=$(put_rec f '{"data":{"name":"phi"}}')
h_check "v4 served" h_wait_for 20 served "$V4"
out=$(sync "$S" "$PROXY")
h_check "sync with Backoff still applies the answer" h_eq "$(echo "$out" | field version)" "$V4"
n=$(wc -l <"$PLOG")
rc=0; sync "$S" "$PROXY" >/dev/null 2>&1 || rc=$?
h_check "during Backoff: exit 3" h_eq "$rc" 3
h_check "during Backoff: no request" h_eq "$(wc -l <"$PLOG")" "$n"
# Retry-After on a 503.
S2=$H_TMP/state2
echo "retry_after 60" >"$MODE"
rc=0; sync "$S2" "$PROXY" >/dev/null 2>&1 || rc=$?
h_check "503 + Retry-After: an error" h_eq "$rc" 1
n=$(wc -l <"$PLOG")
rc=0; sync "$S2" "$PROXY" >/dev/null 2>&1 || rc=$?
h_check "during Retry-After: exit 3, no request" h_eq "$rc/$(wc -l <"$PLOG")" "3/$n"
# Transient 500s are retried with jitter, up to --retries.
S3=$H_TMP/state3
echo status500 >"$MODE"
n=$(wc -l <"$PLOG")
"$HERALD" sync "$PROXY" --public-key "$H_PUBKEY" --state "$S3" --retries 2 main/certs >/dev/null || true
h_check "a 500 is tried 1 + 2 times" h_eq "$(($(wc -l <"$PLOG") - n))" 3

# A packaged dump seeds a fresh client: no request to show it, then a delta from it.
echo pass >"$MODE"
mkdir -p "$H_TMP/dump/main"
curl -s "$CS" >"$H_TMP/dump/main/certs.json"
V5=$(put_rec g '{"data":{"name":"gee"}}')
h_check "v5 served" h_wait_for 20 served "$V5"
n=$(wc -l <"$PLOG")
out=$("$HERALD" show --state "$H_TMP/fresh" --dump "$H_TMP/dump" --public-key "$H_PUBKEY" main/certs)
h_check "dump seeds a fresh client at v4" h_eq "$(echo "$out" | field version)" "$V4"
h_check "seeded from the dump, said so" bash -c "echo '$out' | grep -q from_dump=1"
h_check "showing the dump made no request" h_eq "$(wc -l <"$PLOG")" "$n"
out=$("$HERALD" sync "$PROXY" --public-key "$H_PUBKEY" --state "$H_TMP/fresh" --dump "$H_TMP/dump" main/certs)
h_check "sync from the dump: a delta from v4 to v5" grep -q "certs/changeset?_expected=$V5&_since=$V4" "$PLOG"
h_check "synced to v5" h_eq "$(echo "$out" | field status)/$(echo "$out" | field version)" "ok/$V5"
# A dump edited on disk is not trusted.
sed -i 's/phi/PHI/' "$H_TMP/dump/main/certs.json"
out=$("$HERALD" show --state "$H_TMP/fresh2" --dump "$H_TMP/dump" --public-key "$H_PUBKEY" main/certs || true)
h_check "an edited dump is refused" h_eq "$(echo "$out" | field version)" 0
# Nor is a state file edited on disk.
sed -i 's/gee/GEE/' "$H_TMP/fresh/main/certs.json"
out=$("$HERALD" show --state "$H_TMP/fresh" --public-key "$H_PUBKEY" main/certs || true)
h_check "an edited state file is refused" h_eq "$(echo "$out" | field version)" 0

h_finish
