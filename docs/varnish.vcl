vcl 4.1;
# Varnish in front of Herald read servers, configured as a CDN would be: the cache key is
# the whole URL with its query string (Remote Settings clients put `_expected=<version>`
# in it, so every version has its own URL and is fetched from origin once), the TTL comes
# from the read servers' Cache-Control, `Vary: Accept-Encoding` keeps encodings apart,
# cookies are dropped. Read docs/deploy.md ("A cache in front") for why each line is here.
# tests/integration/test_varnish.sh runs this file, with its own ports, in front of two
# read servers.
#
#   varnishd -a :80 -f /etc/varnish/herald.vcl -s malloc,1G

import directors;
import std;

# The read servers (herald-server, server_listen). Add one block per server.
backend read1 {
    .host = "127.0.0.1";
    .port = "8888";
    # Above the read servers' long_poll_max_seconds (60): a long-poll is answered only
    # when its version changes or its wait ends.
    .first_byte_timeout = 75s;
    # A server is taken out of the rotation when it stops answering; /__lbheartbeat__
    # and not /__heartbeat__, so that read servers keep serving what they hold while
    # Redis is unreachable (their heartbeat says 503 then, and every server would go).
    .probe = {
        .url = "/v1/__lbheartbeat__";
        .interval = 2s;
        .timeout = 1s;
        .window = 3;
        .threshold = 2;
    }
}

backend read2 {
    .host = "127.0.0.1";
    .port = "8890";
    .first_byte_timeout = 75s;
    .probe = {
        .url = "/v1/__lbheartbeat__";
        .interval = 2s;
        .timeout = 1s;
        .window = 3;
        .threshold = 2;
    }
}

sub vcl_init {
    new readers = directors.round_robin();
    readers.add_backend(read1);
    readers.add_backend(read2);
}

sub vcl_recv {
    set req.backend_hint = readers.backend();

    # Read servers only read; anything else is not for this cache.
    if (req.method != "GET" && req.method != "HEAD") {
        return (synth(405));
    }
    # Long-poll (Prefer: wait=N; docs/server.md): the read server holds the request until
    # the version its If-None-Match names changes. Passed, never cached: from the cache a
    # client's If-None-Match would be answered 304 at once by Varnish, and the request
    # never held. A held request costs a read server ~600 bytes, so push needs no cache.
    if (req.http.Prefer ~ "(?i)(^|[,;[:space:]])wait[[:space:]]*=") {
        return (pass);
    }
    # Herald sets no cookie and reads none: a cookie must not split the cache (the
    # built-in VCL would not cache a request carrying one).
    unset req.http.Cookie;
    # The same query in another order is the same answer: one cache entry.
    set req.url = std.querysort(req.url);
    # Herald's answers do not depend on who asks; with Authorization the built-in VCL
    # would pass every request to the origin.
    unset req.http.Authorization;
    # Accept-Encoding: Varnish's http_gzip_support (on by default) reduces it to "gzip"
    # or nothing after this sub, and Vary: Accept-Encoding keeps the two apart. (Varnish
    # 7.1 knows no zstd: Herald's zstd bodies are not used through it.)
    # Everything else (hash on URL + Host, Vary, TTL from Cache-Control, no caching of
    # private/no-store answers) is Varnish's built-in behaviour.
}

sub vcl_miss {
    # A client without gzip: ask the read server for its identity body. Left to itself,
    # Varnish asks for gzip and gunzips on delivery, which turns Herald's strong ETag
    # "V" into W/"V", and Remote Settings clients read the ETag as a number.
    if (!req.http.Accept-Encoding) {
        set req.http.X-Herald-Identity = "1";
    }
}

sub vcl_backend_fetch {
    if (bereq.http.X-Herald-Identity) {
        unset bereq.http.Accept-Encoding;
        unset bereq.http.X-Herald-Identity;
    }
}

sub vcl_backend_response {
    # Answers with Set-Cookie are not cached (built-in); Herald sends none.
    # Errors are cached briefly at most, so that a read server still loading its
    # snapshots (503) is asked again soon.
    if (beresp.status >= 500) {
        set beresp.ttl = 1s;
        set beresp.grace = 0s;
        return (deliver);
    }
    # After its TTL (Cache-Control: max-age), an entry is kept for a conditional
    # revalidation: Varnish sends If-None-Match with the stored ETag, and Herald's 304
    # refreshes the entry without sending the body again (MAIN.fetch_304 counts them).
    set beresp.keep = 1h;
    # Serving a just-expired entry while it is revalidated in the background is safe:
    # a body carries its own signature, and clients with _expected ask for a new URL.
    set beresp.grace = 10s;
}

sub vcl_deliver {
    # Operators read this header to see the cache working; clients ignore it.
    if (obj.hits > 0) {
        set resp.http.X-Cache = "HIT";
    } else {
        set resp.http.X-Cache = "MISS";
    }
}
