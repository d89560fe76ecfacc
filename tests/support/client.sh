# Client-side helpers the integration tests share (sourced by harness.sh, not run): how
# a test talks to the services it started -- the publisher's API as the admin, ETags
# of what a read server serves, JSON fields, `herald-signer verify` -- so each test
# spells these once, the same way. Everything here only reads the harness's variables
# (H_PUB, H_AUTH, H_TMP, H_BUILD); nothing starts or stops a process.

# h_json EXPRESSION: evaluates EXPRESSION on the JSON read from stdin, as `d`, with
# Node; a string is printed as is, anything else as JSON.
h_json() { node -e 'const d=JSON.parse(require("fs").readFileSync(0,"utf8"));const v=('"$1"');process.stdout.write(typeof v==="string"?v:JSON.stringify(v))'; }

# h_now_ms: the wall clock in milliseconds (the unit of Kinto timestamps).
h_now_ms() { date +%s%3N; }

# h_pub METHOD PATH [BODY]: one request to the publisher as the admin; the body goes to
# stdout, the status to $H_STATUS and the response headers to $H_TMP/pub.h. BODY, if
# given, is sent as JSON.
h_pub() {
    local args=(-s -o "$H_TMP/pub.body" -D "$H_TMP/pub.h" -w '%{http_code}' -u "$H_AUTH" -X "$1")
    [ -n "${3:-}" ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
    H_STATUS=$(curl "${args[@]}" "$H_PUB$2")
    cat "$H_TMP/pub.body"
}

# h_put PATH BODY: an admin PUT of the JSON BODY to the publisher; prints the status.
h_put() {
    curl -s -m 30 -o /dev/null -w '%{http_code}' -u "$H_AUTH" -X PUT -H 'Content-Type: application/json' \
        --data-binary "$2" "$H_PUB$1"
}

# h_public_collection BUCKET COLLECTION: creates BUCKET, readable by everyone (so the
# signer publishes what it holds), and an empty COLLECTION in it, as the admin; prints
# both statuses ("201201" when both are new).
h_public_collection() {
    h_put "/buckets/$1" '{"data":{},"permissions":{"read":["system.Everyone"]}}'
    h_put "/buckets/$1/collections/$2" '{"data":{}}'
}

# h_etag URL [CURL ARGS...]: the version in URL's strong ETag ("123" -> 123), or nothing.
h_etag() { curl -s -D - -o /dev/null "$@" | tr -d '\r' | sed -n 's/^[Ee][Tt]ag: *"\([0-9]*\)"/\1/p'; }

# h_served_at URL VERSION [CURL ARGS...]: succeeds if URL is served at VERSION (its ETag).
h_served_at() {
    local url=$1 version=$2
    shift 2
    [ "$(h_etag "$url" "$@")" = "$version" ]
}

# h_verify URL PUBLIC-KEY [ARGS...]: `herald-signer verify` as a client runs it; prints
# its verdict line(s), stdout and stderr together, and never fails by itself.
h_verify() {
    local url=$1 key=$2
    shift 2
    "$H_BUILD/signer/herald-signer" verify --url "$url" --public-key "$key" "$@" 2>&1 || true
}
