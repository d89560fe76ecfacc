/*
 * throttle -- see throttle.h.
 *
 * A slot holds a failure count as a float that decays linearly ('score' as of 'at_ms'),
 * the attempts in flight, and the time until which the key is blocked. The table is
 * 2^k sets of WAYS slots; the set of a key is taken from its SipHash.
 */
#include "throttle.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/mem.h"

#define WAYS 8
#define KEY_BYTES crypto_shorthash_siphashx24_BYTES /* 16 */
#define LOG_INTERVAL_MS 1000

struct slot {
    unsigned char key[KEY_BYTES];
    float score;
    int inflight;
    long long at_ms; /* 0: free */
    long long until_ms;
};

struct pub_throttle {
    pub_throttle_opts o;
    unsigned char siphash_key[crypto_shorthash_siphashx24_KEYBYTES];
    struct slot *slots;
    size_t nsets; /* a power of two */
    long long evictions;
    long long log_last_ms, log_suppressed;
};

/* ---- client address ---------------------------------------------------------------- */

/* Writes the canonical form of the address 's' (length 'n'), an IPv6 one as its /64.
 * Proxies also write "1.2.3.4:5678", "[2001:db8::1]" and "[2001:db8::1]:5678": the port
 * and the brackets are dropped. Returns 0, or -1 when 's' is no IP address. */
static int
canonical(char *out, size_t len, const char *s, size_t n)
{
    char tmp[64];
    unsigned char a[16];
    while (n > 0 && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n > 0 && s[0] == '[') { /* "[v6]" or "[v6]:port" */
        const char *close = memchr(s, ']', n);
        if (!close)
            return -1;
        n = (size_t)(close - s) - 1;
        s++;
    } else if (n > 0 && memchr(s, '.', n)) { /* "v4:port" */
        const char *colon = memchr(s, ':', n);
        if (colon && !memchr(colon + 1, ':', n - (size_t)(colon + 1 - s)))
            n = (size_t)(colon - s);
    }
    if (n == 0 || n >= sizeof(tmp))
        return -1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    if (inet_pton(AF_INET, tmp, a) == 1)
        return inet_ntop(AF_INET, a, out, (socklen_t)len) ? 0 : -1;
    if (inet_pton(AF_INET6, tmp, a) != 1)
        return -1;
    if (a[0] == 0 && a[1] == 0 && !memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12))
        return inet_ntop(AF_INET, a + 12, out, (socklen_t)len) ? 0 : -1;
    memset(a + 8, 0, 8);
    if (!inet_ntop(AF_INET6, a, tmp, sizeof(tmp)))
        return -1;
    snprintf(out, len, "%s/64", tmp);
    return 0;
}

void
pub_throttle_client(char *out, size_t len, const pub_req *req, int depth)
{
    if (depth > 0) {
        /* The entries of every X-Forwarded-For header, right to left. */
        int seen = 0;
        const char *pick = NULL;
        size_t pick_len = 0;
        for (int h = req->headers.n - 1; h >= 0 && seen < depth; h--) {
            if (strcasecmp(req->headers.v[h].name, "X-Forwarded-For") != 0)
                continue;
            const char *v = req->headers.v[h].value;
            size_t end = strlen(v);
            while (seen < depth) {
                size_t start = end;
                while (start > 0 && v[start - 1] != ',')
                    start--;
                pick = v + start;
                pick_len = end - start;
                seen++;
                if (start == 0)
                    break;
                end = start - 1;
            }
        }
        if (pick && canonical(out, len, pick, pick_len) == 0)
            return;
        /* A trusted proxy wrote something that is no address ("unknown", an obfuscated
         * token): count that entry, not the proxy's own address, which every client
         * behind it shares (one failing client would lock all of them out). */
        if (pick && pick_len > 0 && len > 4) {
            /* Printable bytes only: the address is logged. */
            size_t o = (size_t)snprintf(out, len, "xff:");
            for (size_t i = 0; i < pick_len && i < 48 && o + 1 < len; i++) {
                unsigned char ch = (unsigned char)pick[i];
                out[o++] = ch > ' ' && ch < 0x7f ? (char)ch : '?';
            }
            out[o] = '\0';
            return;
        }
    }
    if (canonical(out, len, req->peer, strlen(req->peer)) != 0)
        snprintf(out, len, "%s", req->peer[0] ? req->peer : "unknown");
}

/* ---- the table --------------------------------------------------------------------- */

pub_throttle *
pub_throttle_new(const pub_throttle_opts *o)
{
    /* The settings table (settings.c) checks every range; this guards other callers. */
    if (o->failures < 1 || o->address_failures < 1 || o->account_failures < 1 || o->delay_ms < 1 ||
        o->max_delay_seconds < 1 || o->decay_seconds < 1 || o->entries < 64 ||
        o->forwarded_depth < 0)
        return NULL;
    pub_throttle *t = herald_mem_calloc(1, sizeof(*t));
    t->o = *o;
    t->nsets = 1;
    while (t->nsets * 2 * WAYS <= (size_t)o->entries)
        t->nsets *= 2;
    t->slots = herald_mem_calloc(t->nsets * WAYS, sizeof(*t->slots));
    randombytes_buf(t->siphash_key, sizeof(t->siphash_key));
    return t;
}

void
pub_throttle_free(pub_throttle *t)
{
    if (!t)
        return;
    free(t->slots);
    free(t);
}

/* The key of 'kind' ('p' pair, 'a' address, 'u' account). */
static void
key_of(unsigned char *out, const pub_throttle *t, char kind, const char *account, const char *addr)
{
    unsigned char buf[1024];
    size_t al = account ? strlen(account) : 0, dl = addr ? strlen(addr) : 0;
    if (al > 400)
        al = 400;
    if (dl > 400)
        dl = 400;
    buf[0] = (unsigned char)kind;
    memcpy(buf + 1, account ? account : "", al);
    buf[1 + al] = 0;
    memcpy(buf + 2 + al, addr ? addr : "", dl);
    crypto_shorthash_siphashx24(out, buf, 2 + al + dl, t->siphash_key);
}

static float
score_at(const pub_throttle *t, const struct slot *s, long long now)
{
    if (!s->at_ms)
        return 0;
    double forgotten = (double)(now - s->at_ms) / ((double)t->o.decay_seconds * 1000.0);
    double v = (double)s->score - (forgotten > 0 ? forgotten : 0);
    return v > 0 ? (float)v : 0;
}

/* Failures counted at 'now': a failure partly forgotten still counts whole, so one is
 * forgotten per decay_seconds (a continuous decay alone would let a burst of N
 * failures count as slightly less than N). */
static int
count_at(const pub_throttle *t, const struct slot *s, long long now)
{
    float v = score_at(t, s, now) - 1e-4f;
    int n = (int)v;
    return (float)n < v ? n + 1 : n;
}

static int
idle(const pub_throttle *t, const struct slot *s, long long now)
{
    return s->at_ms == 0 || (s->inflight <= 0 && s->until_ms <= now && score_at(t, s, now) <= 0.0f);
}

/* The slot of 'key'; with 'create', a new one when absent, never evicting 'keep'. */
static struct slot *
lookup(pub_throttle *t, const unsigned char *key, long long now, int create,
       const struct slot *keep)
{
    uint64_t h;
    memcpy(&h, key, sizeof(h));
    struct slot *set = t->slots + (h & (t->nsets - 1)) * WAYS, *victim = NULL;
    double worst = 0;
    for (int i = 0; i < WAYS; i++)
        if (set[i].at_ms && memcmp(set[i].key, key, KEY_BYTES) == 0)
            return &set[i];
    if (!create)
        return NULL;
    for (int i = 0; i < WAYS; i++) {
        struct slot *s = &set[i];
        if (s == keep)
            continue;
        if (idle(t, s, now)) {
            victim = s;
            break;
        }
        /* Worth: failures, plus much more while blocked or in flight. */
        double w = score_at(t, s, now) + (s->until_ms > now ? 1e6 : 0) + s->inflight * 1e7;
        if (!victim || w < worst) {
            victim = s;
            worst = w;
        }
    }
    if (!idle(t, victim, now))
        t->evictions++;
    memset(victim, 0, sizeof(*victim));
    memcpy(victim->key, key, KEY_BYTES);
    victim->at_ms = now > 0 ? now : 1;
    return victim;
}

/* Blocked at 'now' under threshold 'thr'? Sets *wait_ms. */
static int
blocked(const pub_throttle *t, const struct slot *s, int thr, long long now, long long *wait_ms)
{
    if (s->until_ms > now) {
        *wait_ms = s->until_ms - now;
        return 1;
    }
    if (s->inflight > 0 && count_at(t, s, now) + s->inflight >= thr) {
        *wait_ms = 1000; /* an attempt is being verified: try after it */
        return 1;
    }
    return 0;
}

static int
pair_threshold(const pub_throttle *t, const struct slot *pair, const struct slot *account,
               long long now)
{
    int hot = account && count_at(t, account, now) >= t->o.account_failures;
    return hot && pair && count_at(t, pair, now) > 0 ? 1 : t->o.failures;
}

int
pub_throttle_check(pub_throttle *t, const char *account, const char *addr, long long now)
{
    unsigned char ka[KEY_BYTES], kp[KEY_BYTES], ku[KEY_BYTES];
    long long wait = 0;
    key_of(ka, t, 'a', NULL, addr);
    key_of(kp, t, 'p', account, addr);
    key_of(ku, t, 'u', account, NULL);
    struct slot *a = lookup(t, ka, now, 1, NULL);
    if (blocked(t, a, t->o.address_failures, now, &wait))
        return (int)((wait + 999) / 1000);
    struct slot *p = lookup(t, kp, now, 1, a);
    const struct slot *u = lookup(t, ku, now, 0, NULL);
    if (blocked(t, p, pair_threshold(t, p, u, now), now, &wait))
        return (int)((wait + 999) / 1000);
    a->inflight++;
    p->inflight++;
    return 0;
}

/* Adds one failure to 's' and blocks it when past 'thr'. Returns the wait, or 0. */
static long long
fail(const pub_throttle *t, struct slot *s, int thr, long long now)
{
    s->score = score_at(t, s, now) + 1.0f;
    s->at_ms = now > 0 ? now : 1;
    int n = count_at(t, s, now);
    if (n < thr)
        return 0;
    int past = n - thr; /* failures past the threshold: each doubles the delay */
    double d = (double)t->o.delay_ms;
    for (int k = 0; k < past && d < t->o.max_delay_seconds * 1000.0; k++)
        d *= 2;
    if (d > t->o.max_delay_seconds * 1000.0)
        d = t->o.max_delay_seconds * 1000.0;
    s->until_ms = now + (long long)d;
    return (long long)d;
}

void
pub_throttle_done(pub_throttle *t, const char *account, const char *addr, int ok, long long now,
                  pub_throttle_result *out)
{
    unsigned char ka[KEY_BYTES], kp[KEY_BYTES], ku[KEY_BYTES];
    pub_throttle_result r = {0, 0, 0};
    key_of(ka, t, 'a', NULL, addr);
    key_of(kp, t, 'p', account, addr);
    key_of(ku, t, 'u', account, NULL);
    /* A slot evicted meanwhile comes back empty: its charge is lost, not its safety. */
    struct slot *a = lookup(t, ka, now, 1, NULL);
    struct slot *p = lookup(t, kp, now, 1, a);
    if (a->inflight > 0)
        a->inflight--;
    if (p->inflight > 0)
        p->inflight--;
    if (ok < 0) {
        /* not verified: the charge is released, nothing is learnt */
    } else if (ok) {
        p->score = 0;
        p->until_ms = 0;
        p->at_ms = now > 0 ? now : 1;
    } else {
        long long wa = fail(t, a, t->o.address_failures, now);
        r.address_failures = count_at(t, a, now);
        /* May evict 'a' (settled above), never 'p'. */
        struct slot *u = lookup(t, ku, now, 1, p);
        u->score = score_at(t, u, now) + 1.0f;
        u->at_ms = now > 0 ? now : 1;
        long long wp = fail(t, p, pair_threshold(t, p, u, now), now);
        r.pair_failures = count_at(t, p, now);
        r.wait_ms = wa > wp ? wa : wp;
    }
    if (out)
        *out = r;
}

int
pub_throttle_log_ok(pub_throttle *t, long long now, long long *suppressed)
{
    if (t->log_last_ms && now - t->log_last_ms < LOG_INTERVAL_MS) {
        t->log_suppressed++;
        return 0;
    }
    *suppressed = t->log_suppressed;
    t->log_suppressed = 0;
    t->log_last_ms = now > 0 ? now : 1;
    return 1;
}

void
pub_throttle_stats_get(const pub_throttle *t, long long now, pub_throttle_stats *out)
{
    out->capacity = (long long)(t->nsets * WAYS);
    out->entries = 0;
    for (size_t i = 0; i < t->nsets * WAYS; i++)
        if (!idle(t, &t->slots[i], now))
            out->entries++;
    out->evictions = t->evictions;
}
