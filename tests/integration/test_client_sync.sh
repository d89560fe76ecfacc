#!/usr/bin/env bash
# The C client (`herald`, on libherald_client) against a real publisher, signer and read
# server, directly and through tests/node/client_proxy.mjs, a real proxy process that
# corrupts, truncates, replays or stalls what the server answers, or adds Backoff and
# Retry-After. Checks: first sync, delta sync after edits and deletions (records equal
# to the server's full changeset), the record filter, tampered / truncated / replayed
# (rollback) / stalled answers refused with the last verified copy kept, a one-time
# tamper healed by the full refetch, Backoff and Retry-After honoured (no request while
# they run), and a packaged dump seeding a fresh client with no request. The same
# scenario runs twice: the C client (build/client/herald) on collection main/certs_c and
# the JavaScript client (tests/node/herald_cli.mjs, same command line and output) on
# main/certs_js, so both libraries are held to the same behaviour.
source "$(dirname "$0")/../support/harness.sh"

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

served() { [ "$(h_etag "$CS")" = "$1" ]; }
put_rec() { h_pub PUT "/buckets/main/collections/$COLL/records/$1" "$2" >"$H_TMP/last"; h_json d.data.last_modified <"$H_TMP/last"; }
# The server's full changeset's records, sorted by id, compact: what the client must hold.
server_records() { curl -s "$CS" | node -e 'const d=JSON.parse(require("fs").readFileSync(0,"utf8"));const r=d.changes.sort((a,b)=>a.id<b.id?-1:a.id>b.id?1:0);console.log(JSON.stringify(r))'; }
# herald show's records line, re-serialized by Node the same way.
client_records() { herald show --state "$1" --public-key "$H_PUBKEY" "main/$COLL" | sed -n 2p | node -e 'console.log(JSON.stringify(JSON.parse(require("fs").readFileSync(0,"utf8"))))'; }
sync() { local dir=$1; shift; herald sync "$@" --public-key "$H_PUBKEY" --state "$dir" --retries 1 --timeout-ms 3000 "main/$COLL"; }
field() { sed -n "s/^main\/$COLL .*$1=\([^ ]*\).*/\1/p"; }
herald() { "${HERALD[@]}" "$@"; }

OTHER_KEY=$("$H_BUILD/signer/herald-signer" keygen --out "$H_TMP/other.key")

scenario() {
COLL=$1
T=$H_TMP/$COLL
mkdir -p "$T"
CS="$H_SRV/buckets/main/collections/$COLL/changeset"
h_log "---- $COLL: ${HERALD[*]##*/}"
echo pass >"$MODE"
created=$(h_public_collection main "$COLL")
h_check "collection created" h_eq "${created: -3}" 201
put_rec a '{"data":{"name":"alpha","kind":"x"}}' >/dev/null
put_rec b '{"data":{"name":"beta","kind":"y","n":[1.5,1e-7,1e21]}}' >/dev/null
V1=$(put_rec c '{"data":{"name":"gamma ✓","kind":"x"}}')
h_check "v1 served" h_wait_for 20 served "$V1"

# First sync, directly from the read server.
S=$T/state
out=$(sync "$S" "$H_SRV")
h_check "first sync ok" h_eq "$(echo "$out" | field status)" ok
h_check "first sync at v1" h_eq "$(echo "$out" | field version)" "$V1"
h_check "first sync holds 3 records" h_eq "$(echo "$out" | field records)" 3
h_check "records equal the server's" h_eq "$(client_records "$S")" "$(server_records)"
h_check "state file written" test -s "$S/main/$COLL.json"
# The proxy keeps this full v1 changeset to replay later.
curl -s -o /dev/null "$PROXY/buckets/main/collections/$COLL/changeset"

# Edits and a deletion, then a delta sync through the proxy.
put_rec a '{"data":{"name":"alpha 2","kind":"y"}}' >/dev/null
put_rec d '{"data":{"name":"delta","kind":"x"}}' >/dev/null
h_pub DELETE /buckets/main/collections/$COLL/records/b >"$T/last"
V2=$(h_json d.data.last_modified <"$T/last")
h_check "v2 served" h_wait_for 20 served "$V2"
out=$(sync "$S" "$PROXY")
h_check "delta sync ok" h_eq "$(echo "$out" | field status)" ok
h_check "delta sync at v2" h_eq "$(echo "$out" | field version)" "$V2"
h_check "delta asked with _since=v1 and _expected=v2" grep -q "$COLL/changeset?_expected=$V2&_since=$V1" "$PLOG"
h_check "and nothing else of the collection" h_eq "$(grep -c "$COLL/changeset?" "$PLOG")" 1
h_check "records after the delta equal the server's" h_eq "$(client_records "$S")" "$(server_records)"
ids=$(herald show --state "$S" --public-key "$H_PUBKEY" --filter kind=x main/$COLL | sed -n 2p | h_json 'd.map(r=>r.id).join(",")')
h_check "the filter keeps only kind=x" h_eq "$ids" "c,d"
out=$(sync "$S" "$PROXY")
h_check "nothing new: ok, no changeset request" h_eq "$(grep -c "$COLL/changeset?" "$PLOG")" 1

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
echo tamper >"$MODE"
h_check "tamper is reported as invalid" h_eq "$(sync "$S" "$PROXY" | field status)" invalid
echo replay >"$MODE"
h_check "a replayed older changeset is reported as rollback" h_eq "$(sync "$S" "$PROXY" | field status)" rollback
echo stall >"$MODE"
out=$(herald sync "$PROXY" --public-key "$H_PUBKEY" --state "$S" --retries 0 --timeout-ms 500 main/$COLL || true)
h_check "stalled answer: network error, v2 kept" h_eq "$(echo "$out" | field status)/$(echo "$out" | field version)" "network/$V2"
# A tamper on the delta only: the full refetch verifies.
echo tamper_once >"$MODE"
out=$(sync "$S" "$PROXY")
h_check "one tampered delta: the full refetch heals it" h_eq "$(echo "$out" | field status)/$(echo "$out" | field version)" "ok/$V3"
h_check "one verify failure counted" h_eq "$(echo "$out" | sed -n 's/.*verify_failures=\([0-9]*\).*/\1/p')" 1
h_check "records at v3 equal the server's" h_eq "$(client_records "$S")" "$(server_records)"
out=$(herald sync "$H_SRV" --public-key "$OTHER_KEY" --state "$T/wrongkey" "main/$COLL" || true)
h_check "a wrong key never accepts" h_eq "$(echo "$out" | field version)/$(echo "$out" | field status)" 0/unknown_key

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
S2=$T/state2
echo "retry_after 60" >"$MODE"
rc=0; sync "$S2" "$PROXY" >/dev/null 2>&1 || rc=$?
h_check "503 + Retry-After: an error" h_eq "$rc" 1
n=$(wc -l <"$PLOG")
rc=0; sync "$S2" "$PROXY" >/dev/null 2>&1 || rc=$?
h_check "during Retry-After: exit 3, no request" h_eq "$rc/$(wc -l <"$PLOG")" "3/$n"
# Transient 500s are retried with jitter, up to --retries.
S3=$T/state3
echo status500 >"$MODE"
n=$(wc -l <"$PLOG")
herald sync "$PROXY" --public-key "$H_PUBKEY" --state "$S3" --retries 2 main/$COLL >/dev/null || true
h_check "a 500 is tried 1 + 2 times" h_eq "$(($(wc -l <"$PLOG") - n))" 3

# A packaged dump seeds a fresh client: no request to show it, then a delta from it.
echo pass >"$MODE"
mkdir -p "$T/dump/main"
curl -s "$CS" >"$T/dump/main/$COLL.json"
V5=$(put_rec g '{"data":{"name":"gee"}}')
h_check "v5 served" h_wait_for 20 served "$V5"
n=$(wc -l <"$PLOG")
out=$(herald show --state "$T/fresh" --dump "$T/dump" --public-key "$H_PUBKEY" main/$COLL)
h_check "dump seeds a fresh client at v4" h_eq "$(echo "$out" | field version)" "$V4"
h_check "seeded from the dump, said so" grep -q from_dump=1 <<<"$out"
h_check "showing the dump made no request" h_eq "$(wc -l <"$PLOG")" "$n"
out=$(herald sync "$PROXY" --public-key "$H_PUBKEY" --state "$T/fresh" --dump "$T/dump" main/$COLL)
h_check "sync from the dump: a delta from v4 to v5" grep -q "$COLL/changeset?_expected=$V5&_since=$V4" "$PLOG"
h_check "synced to v5" h_eq "$(echo "$out" | field status)/$(echo "$out" | field version)" "ok/$V5"
# A dump edited on disk is not trusted.
sed -i 's/phi/PHI/' "$T/dump/main/$COLL.json"
out=$(herald show --state "$T/fresh2" --dump "$T/dump" --public-key "$H_PUBKEY" main/$COLL || true)
h_check "an edited dump is refused" h_eq "$(echo "$out" | field version)" 0
# Nor is a state file edited on disk.
sed -i 's/gee/GEE/' "$T/fresh/main/$COLL.json"
out=$(herald show --state "$T/fresh" --public-key "$H_PUBKEY" main/$COLL || true)
h_check "an edited state file is refused" h_eq "$(echo "$out" | field version)" 0

}

HERALD=("$H_BUILD/client/herald")
scenario certs_c
HERALD=(node "$H_SRC/tests/node/herald_cli.mjs")
scenario certs_js
h_finish
