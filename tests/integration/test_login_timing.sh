#!/usr/bin/env bash
# Logins do not tell who has an account (issue 18): a wrong password for an unknown
# account costs the same argon2id verification (against a dummy hash made at start) as
# one for an existing account. The medians of interleaved attempts
# are measured by benchmarks/bench_login.sh; here, without a clock, the /metrics count of
# argon2id verifications rises by one per attempt either way, the answers are
# byte-identical, and the unit test checks the dummy hash has an account hash's cost.
# Each attempt comes from a fresh address (X-Forwarded-For, trusted depth 1) so the
# throttle does not step in.
source "$(dirname "$0")/../support/harness.sh"

h_start_redis
export HERALD_ACCOUNT_CREATE_PRINCIPALS=system.Everyone
export HERALD_TRUSTED_FORWARDED_FOR_DEPTH=1
h_start_publisher

M="http://127.0.0.1:$H_PUB_PORT/metrics"
metric() { curl -s "$M" | awk -v k="$1" '$1 == k { print $2 }'; }
verifications() { metric herald_publisher_password_verifications_total; }

code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/json' \
    --data '{"data":{"password":"alice-pw"}}' "$H_PUB/accounts/alice")
h_check "alice created" h_eq "$code" 201

# attempt USER PASSWORD ADDRESS: prints "status seconds" and keeps the body.
attempt() {
    curl -s -o "$H_TMP/body.$1" -w '%{http_code} %{time_total}\n' -u "$1:$2" \
        -H "X-Forwarded-For: $3" "$H_PUB/buckets"
}

# ---- deterministic: one verification per attempt, known or unknown account ----
v0=$(verifications)
for i in 1 2 3 4 5; do attempt "ghost$i" wrong "10.1.0.$i" >/dev/null; done
v1=$(verifications)
h_check "5 unknown-account attempts: 5 argon2id verifications" h_eq "$((v1 - v0))" 5
for i in 1 2 3 4 5; do attempt alice "wrong$i" "10.1.1.$i" >/dev/null; done
v2=$(verifications)
h_check "5 wrong passwords: 5 argon2id verifications" h_eq "$((v2 - v1))" 5
h_check "answers are byte-identical" cmp -s "$H_TMP/body.alice" "$H_TMP/body.ghost5"
h_check "failures counted" h_eq "$(metric 'herald_publisher_logins_total{result="failure"}')" 10
read -r s _ < <(attempt alice alice-pw 10.1.2.1)
h_check "the right password logs in" h_eq "$s" 200
read -r s _ < <(attempt alice alice-pw 10.1.2.1)
h_check "then from the credential cache (no verification)" h_eq "$(verifications)" "$((v2 + 1))"
h_check "successes counted" h_eq "$(metric 'herald_publisher_logins_total{result="success"}')" 2

# No timing is asserted here (tests never assert a timing): that the dummy hash costs
# what an account's hash costs is checked without a clock by the unit test
# publisher_accounts::dummy_hash_costs_what_an_account_hash_costs (same argon2id
# parameters), and benchmarks/bench_login.sh measures the medians side by side.
h_check "no 429 for attempts from fresh addresses" h_eq "$(metric 'herald_publisher_logins_total{result="throttled"}')" 0
h_check "the log holds the attempts (control for the next check)" grep -q "GET /v1/buckets 401" "$H_TMP/publisher.log"
h_check "no password in the log" bash -c "! grep -qE 'alice-pw|wrong[0-9]' '$H_TMP/publisher.log'"

h_finish
