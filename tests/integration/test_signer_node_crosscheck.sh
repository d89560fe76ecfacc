#!/usr/bin/env bash
# Cross-check with an implementation Herald did not write: tests/node/verify_snapshot.js
# (Node's crypto.verify for Ed25519, the npm package `canonicalize` for RFC 8785) verifies
# what herald-server serves, from the public contract (docs/signature-format.md) alone:
# a full changeset with hard cases for canonical JSON (non-ASCII, escapes, floats,
# exponents, nested objects, key order by UTF-16 code units), then a _since delta with
# a tombstone merged into the saved state, and rejects tampered changesets. Signed with
# two keys, it accepts either one pinned.
source "$(dirname "$0")/../support/harness.sh"

NODE_DIR=$H_SRC/tests/node
VERIFY=$NODE_DIR/verify_snapshot.js

h_start_redis
h_keygen
KEY1_PUB=$H_PUBKEY
KEY2_PUB=$("$H_BUILD/signer/herald-signer" keygen --out "$H_TMP/second.key")
h_start_publisher
h_start_signer --key "$H_TMP/second.key"
h_start_server

served() { [ "$(h_etag "$CS")" = "$1" ]; }
node_verify() { node "$VERIFY" "$@" 2>&1 || true; }

CS="$H_SRV/buckets/xc/collections/hard/changeset"
h_pub PUT /buckets/xc '{"data":{},"permissions":{"read":["system.Everyone"]}}' >/dev/null
h_pub PUT /buckets/xc/collections/hard '{"data":{"displayName":"Hard cases"}}' >/dev/null
h_check "collection created" h_eq "$H_STATUS" 201

# Canonical JSON hard cases. Key order: UTF-16 code units, so "\u20ac" (U+20AC) sorts
# before "\ud83d\ude00" (U+1F600, surrogates 0xD83D...) which sorts before "\uff61"
# (U+FF61) -- unlike UTF-8 byte order, where U+FF61 comes before U+1F600.
records=(
  'a1:{"data":{"name":"Zoë — ünïcødé ✓ 😀","ctl":"\u0001\u001f\b\f\n\r\t","q":"\"\\/"}}'
  'a2:{"data":{"f":[0.1,1e-7,1e21,1e+300,-0.0,0.000001,5e-324,1.7976931348623157e308,-1.5,100,2e2]}}'
  'a3:{"data":{"keys":{"\u20ac":1,"\ud83d\ude00":2,"\uff61":3,"a":4,"B":5,"":6,"aa":7,"\u00e9":8}}}'
  'b-1:{"data":{"nested":{"z":{"y":[{"b":true,"a":null}],"x":false},"a":[]},"int":9007199254740991,"neg":-9007199254740991}}'
  'B_2:{"data":{"s":"line\u2028sep\u2029","big":"\ud834\udd1e","e":""}}'
  'c:{"data":{}}'
)
accepted=0
for rec in "${records[@]}"; do
    h_pub PUT "/buckets/xc/collections/hard/records/${rec%%:*}" "${rec#*:}" >"$H_TMP/last"
    if [ "$H_STATUS" = 201 ]; then accepted=$((accepted + 1)); else h_log "     PUT ${rec%%:*} -> $H_STATUS $(cat "$H_TMP/last")"; fi
done
h_check "all hard-case records accepted" h_eq "$accepted" "${#records[@]}"
T1=$(h_json d.data.last_modified <"$H_TMP/last")
h_check "server serves the version with every record" h_wait_for 20 served "$T1"

out=$(node_verify --url "$CS" --public-key "$KEY1_PUB")
h_check "node verifies the full changeset (first key)" h_eq "$(echo "$out" | cut -d' ' -f1-5)" \
    "OK bucket=xc collection=hard timestamp=$T1 records=6"
out=$(node_verify --url "$CS" --public-key "$KEY2_PUB")
h_check "node verifies the full changeset (second key)" h_eq "$(echo "$out" | cut -d' ' -f1)" OK
out=$(node_verify --url "$CS" --public-key "$("$H_BUILD/signer/herald-signer" keygen --out "$H_TMP/other.key")")
h_check "node rejects a key that did not sign" h_eq "$out" "FAIL no signature by a pinned key"
out=$("$H_BUILD/signer/herald-signer" verify --url "$CS" --public-key "$KEY2_PUB" 2>&1)
h_check "herald-signer verify agrees (second key)" h_eq "$(echo "$out" | cut -d' ' -f1-5)" \
    "OK bucket=xc collection=hard timestamp=$T1 records=6"

# Tampering, each in turn, must be rejected by the independent verifier.
curl -s "$CS" >"$H_TMP/full.json"
tamper() { # NAME JS-MUTATION EXPECTED-REASON-PREFIX
    node -e 'const fs=require("fs");const d=JSON.parse(fs.readFileSync(process.argv[1],"utf8"));'"$2"';fs.writeFileSync(process.argv[2],JSON.stringify(d))' \
        "$H_TMP/full.json" "$H_TMP/tampered.json"
    local o
    o=$(node_verify --url "$CS" --public-key "$KEY1_PUB" --changeset-file "$H_TMP/tampered.json")
    h_check "node rejects: $1" bash -c "case \"\$1\" in \"FAIL $3\"*) exit 0;; *) echo \"     got [\$1]\" >&2; exit 1;; esac" _ "$o"
}
node_verify --url "$CS" --public-key "$KEY1_PUB" --changeset-file "$H_TMP/full.json" >"$H_TMP/o"
h_check "node verifies the saved copy untouched" h_eq "$(cut -d' ' -f1 <"$H_TMP/o")" OK
node -e 'const fs=require("fs");const d=JSON.parse(fs.readFileSync(process.argv[1],"utf8"));d.changes.reverse();fs.writeFileSync(process.argv[2],JSON.stringify(d))' \
    "$H_TMP/full.json" "$H_TMP/reordered.json"
o=$(node_verify --url "$CS" --public-key "$KEY1_PUB" --changeset-file "$H_TMP/reordered.json")
h_check "node accepts the changes in another order (the client sorts)" h_eq "${o%% *}" OK
tamper "a record's value changed" 'd.changes.find(r=>r.id==="c").x=1' "head.sha256"
tamper "a record dropped" 'd.changes.pop()' "head.records"
tamper "a record added" 'd.changes.push({id:"zz",last_modified:1})' "head.records"
tamper "a float re-spelled" 'd.changes.find(r=>r.id==="a2").f[0]=0.1000000000000001' "head.sha256"
tamper "timestamp changed" 'd.timestamp+=1' "head.timestamp"
tamper "head.timestamp changed" 'd.metadata.signatures[0].head.timestamp+=1;d.timestamp+=1;d.metadata.signature=d.metadata.signatures[0]' "bad signature"
tamper "head.expires changed" 'd.metadata.signatures[0].head.expires+=1;d.metadata.signature=d.metadata.signatures[0]' "bad signature"
tamper "head.collection changed" 'd.metadata.signatures[0].head.collection="other";d.metadata.signature=d.metadata.signatures[0]' "head.collection"
tamper "signature byte flipped" 'const s=d.metadata.signatures[0];s.signature=(s.signature[0]==="A"?"B":"A")+s.signature.slice(1);d.metadata.signature=s' "bad signature"
tamper "signature is not signatures[0]" 'd.metadata.signature=d.metadata.signatures[1]' "metadata.signature"
o=$(node_verify --url "$CS" --public-key "$KEY1_PUB" --changeset-file "$H_TMP/full.json" --now-ms 99999999999999)
h_check "node rejects an expired signature" bash -c '[[ "$1" == "FAIL expired at"* ]]' _ "$o"
o=$(node_verify --url "${CS/hard/other}" --public-key "$KEY1_PUB" --changeset-file "$H_TMP/full.json")
h_check "node rejects a snapshot served for another collection" h_eq "$o" "FAIL head.collection is not the requested collection"

# Delta: keep a verified state, change one record and delete another, merge _since.
STATE=$H_TMP/node-state.json
out=$(node_verify --url "$CS" --public-key "$KEY1_PUB" --state "$STATE")
h_check "node saves a verified state" h_eq "$(echo "$out" | cut -d' ' -f1,7)" "OK mode=full"
h_pub PUT /buckets/xc/collections/hard/records/a1 '{"data":{"name":"changed ☃","n":-0.5}}' >/dev/null
h_pub DELETE /buckets/xc/collections/hard/records/a3 >"$H_TMP/del"
T2=$(h_json d.data.last_modified <"$H_TMP/del")
h_check "server serves the version after the edits" h_wait_for 20 served "$T2"
delta=$(curl -s "$CS?_since=$T1")
h_check "the delta holds the edit and the tombstone" h_eq "$(echo "$delta" | h_json 'd.changes.map(c=>c.id+(c.deleted?"-":"")).sort().join()')" "a1,a3-"
out=$(node_verify --url "$CS" --public-key "$KEY2_PUB" --state "$STATE")
h_check "node verifies the merged delta" h_eq "$(echo "$out" | cut -d' ' -f1-5,7)" \
    "OK bucket=xc collection=hard timestamp=$T2 records=5 mode=delta"
h_check "merged state has the new record value" h_eq "$(h_json 'd.records.find(r=>r.id==="a1").name' <"$STATE")" "changed ☃"

# Metadata change: a new version over the same records, still verifiable.
h_pub PATCH /buckets/xc/collections/hard '{"data":{"displayName":"Renamed"}}' >/dev/null
h_check "metadata change is served as a newer version" h_wait_for 20 bash -c "[ \"\$(curl -s -D - -o /dev/null '$CS' | tr -d '\r' | sed -n 's/^[Ee][Tt]ag: *\"\([0-9]*\)\"/\1/p')\" -gt $T2 ]"
out=$(node_verify --url "$CS" --public-key "$KEY1_PUB" --state "$STATE")
h_check "node verifies the empty delta after a metadata change" h_eq "$(echo "$out" | cut -d' ' -f1,5,7)" "OK records=5 mode=delta"

h_finish
