#!/usr/bin/env bash
# The signed monitor (issue 14, DESIGN.md "Signed monitor") through the real signer and
# read server: the signer signs and stores it (herald:monitor:signed) on every change and
# again when half its lifetime has passed (here 4 s: every 2 s); the read server verifies
# it and serves it in the unfiltered monitor changeset (signatures, timestamp = ETag = M,
# each entry with "sha256"), checked by an independent Node verifier
# (tests/node/verify_monitor.mjs) and against each collection's own signed head. Filtered
# and _since answers carry no signature; a long-poll on the monitor is answered when M
# changes; a stored monitor that does not verify is refused (the previous one stays);
# when no valid one arrives before expiry the server stops serving it (unsigned monitor);
# herald-signer inspect shows it.
source "$(dirname "$0")/../support/harness.sh"

h_start_redis
h_keygen
h_start_publisher
HERALD_MONITOR_SIGNATURE_LIFETIME_SECONDS=4 h_start_signer
h_start_server

MON="$H_SRV/buckets/monitor/collections/changes/changeset"
vmon() { node "$H_SRC/tests/node/verify_monitor.mjs" "$H_PUBKEY" "$@"; }
signed() { curl -s "$MON" | vmon >/dev/null; }
h_public_collection main certs >/dev/null
h_public_collection main crl >/dev/null
V1=$(h_pub PUT /buckets/main/collections/certs/records/a '{"data":{"n":1}}' | h_json d.data.last_modified)
V2=$(h_pub PUT /buckets/main/collections/crl/records/x '{"data":{"n":2}}' | h_json d.data.last_modified)
has_both() { curl -s "$MON" | h_json "d.changes.filter(c=>(c.collection==='certs'&&c.last_modified===$V1)||(c.collection==='crl'&&c.last_modified===$V2)).length" | grep -qx 2; }
h_check "both versions in the monitor" h_wait_for 20 has_both
h_check "the unfiltered monitor verifies (independent verifier)" h_wait_for 10 signed

curl -s -D "$H_TMP/h" "$MON" >"$H_TMP/mon.json"
M=$(h_json d.timestamp <"$H_TMP/mon.json")
out=$(vmon <"$H_TMP/mon.json")
h_check "verifier says OK at M" h_eq "$out" "OK $M"
h_check "ETag is M" h_eq "$(tr -d '\r' <"$H_TMP/h" | sed -n 's/^[Ee][Tt]ag: "\(.*\)"/\1/p')" "$M"
h_check "M is not below any V" test "$M" -ge "$V2" -a "$M" -ge "$V1"
h_check "metadata.signature is signatures[0]" h_eq "$(h_json 'JSON.stringify(d.metadata.signature)===JSON.stringify(d.metadata.signatures[0])' <"$H_TMP/mon.json")" true
head_sha() { curl -s "$H_SRV/buckets/main/collections/$1/changeset" | h_json d.metadata.signatures[0].head.sha256; }
entry_sha() { h_json "d.changes.find(c=>c.collection==='$1').sha256" <"$H_TMP/mon.json"; }
h_check "certs entry sha256 = its signed head's" h_eq "$(entry_sha certs)" "$(head_sha certs)"
h_check "crl entry sha256 = its signed head's" h_eq "$(entry_sha crl)" "$(head_sha crl)"

# Subsets carry no signature.
nosig() { curl -s "$1" | h_json '"signature" in d.metadata || "signatures" in d.metadata'; }
h_check "filtered (bucket=) has no signature" h_eq "$(nosig "$MON?bucket=main")" false
h_check "filtered (collection=) has no signature" h_eq "$(nosig "$MON?collection=crl")" false
h_check "_since has no signature" h_eq "$(nosig "$MON?_since=$V1")" false
# (M moves every 2 s here: the _since answer's timestamp is M at that moment, >= M.)
h_check "_since keeps M as timestamp" test "$(curl -s "$MON?_since=$V1" | h_json d.timestamp)" -ge "$M"
h_check "_since lists only newer entries" h_eq "$(curl -s "$MON?_since=$V1" | h_json 'd.changes.map(c=>c.collection).join()')" crl
h_check "legacy records form still answers" h_eq "$(curl -s "$H_SRV/buckets/monitor/collections/changes/records" | h_json 'd.data.length')" 2

# Re-signed with no change once half the lifetime has passed: M grows, still verifies.
newer() { local m; m=$(curl -s "$MON" | vmon) && [ "${m#OK }" -gt "$M" ]; }
h_check "re-signed without a change (M grows)" h_wait_for 15 newer

# Long-poll: held with the current M, answered 200 when M changes.
M2=$(curl -s "$MON" | h_json d.timestamp)
code=$(curl -s -o "$H_TMP/lp.json" -w '%{http_code}' -H "If-None-Match: \"$M2\"" -H 'Prefer: wait=15' "$MON")
h_check "long-poll answered 200 on a new M" h_eq "$code" 200
h_check "  with a newer signed monitor" bash -c "node '$H_SRC/tests/node/verify_monitor.mjs' '$H_PUBKEY' $((M2 + 1)) <'$H_TMP/lp.json' | grep -q '^OK'"

# herald-signer inspect shows it, verified.
ins=$("$H_BUILD/signer/herald-signer" inspect --redis "$H_REDIS_URL" --public-key "$H_PUBKEY" monitor)
h_check "inspect shows the monitor, verified" h_eq "$(echo "$ins" | h_json '[d.kind,d.verified,d.collections].join()')" "monitor,true,2"
h_check "inspect (all) ends with the monitor" h_eq "$("$H_BUILD/signer/herald-signer" inspect --redis "$H_REDIS_URL" | tail -1 | h_json d.kind)" monitor

# Frozen: stop the signer; past its expiry the server no longer serves it.
kill "$H_SIGNER_PID"
wait "$H_SIGNER_PID" 2>/dev/null || true
unsigned() { [ "$(nosig "$MON")" = false ]; }
h_check "no signed monitor served once it expires" h_wait_for 10 unsigned
h_check "  logged" grep -q "serving the unsigned monitor" "$H_TMP/server.log"
h_check "  the unsigned monitor still lists the collections" h_eq "$(curl -s "$MON" | h_json d.changes.length)" 2
# A signer again (an hour's lifetime now): signed again.
h_start_signer
long() { [ "$(curl -s "$MON" | h_json "d.metadata.signatures ? d.metadata.signatures[0].head.expires > Date.now() + 600e3 : false")" = true ]; }
h_check "a restarted signer's monitor is served again" h_wait_for 20 long
h_check "  and verifies" signed
kill "$H_SIGNER_PID"
wait "$H_SIGNER_PID" 2>/dev/null || true

# A forged stored monitor (an entry edited, its M raised) is refused; the verified one
# stays.
MS=$(curl -s "$MON" | h_json d.timestamp)
body=$(h_redis --raw HGET herald:monitor:signed body)
forged=$(echo "$body" | node -e 'const d=JSON.parse(require("fs").readFileSync(0,"utf8"));d.entries[0].last_modified+=1;d.signatures.forEach(s=>s.head.timestamp+=10);process.stdout.write(JSON.stringify(d))')
h_redis HSET herald:monitor:signed body "$forged" >/dev/null
h_redis PUBLISH herald:snapshots "monitor $((MS + 10))" >/dev/null
h_check "a forged monitor is refused and logged" h_wait_for 10 grep -q "signed monitor $((MS + 10)) does not verify" "$H_TMP/server.log"
h_check "  the verified one is still served" h_eq "$(curl -s "$MON" | vmon)" "OK $MS"

h_finish
