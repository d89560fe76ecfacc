/*
 * check_monitor -- the signed monitor verifier (lib/monitor.c) on arbitrary input,
 * against the golden public key.
 *
 * The input is a served monitor changeset ({"changes":[...],"metadata":{"signatures":
 * [...]},"timestamp":M}), parsed strict as a client does. Properties: verify never
 * crashes, returns a known status and, unless OK, a reason. When it accepts (the corpus
 * holds monitors signed with the golden key): the entries in reverse order are accepted
 * too (the verifier re-sorts); a verified head re-parsed from its own JCS is identical;
 * a minimum M above the verified one is a rollback; now == expires is expired; any one
 * entry dropped, or one entry's last_modified moved, fails the hash check.
 */
#include "fuzz_checks.h"

#include <string.h>

#include "herald/crypto.h"
#include "herald/jcs.h"
#include "herald/monitor.h"

static herald_pubkey pub;
static int pub_ready;

static enum herald_monitor_status
verify(herald_monitor_head *h, const json_t *changes, const json_t *sigs, int64_t ts, int64_t now,
       int64_t min, char *err, size_t errlen)
{
    return herald_monitor_verify(h, changes, sigs, ts, now, min, &pub, 1, err, errlen);
}

const char *
herald_fuzz_check_monitor(const uint8_t *data, size_t size)
{
    const char *bad = NULL;
    char err[256];
    herald_monitor_head h, h2;
    herald_buf b = HERALD_BUF_INIT;
    json_t *rev = NULL, *cut = NULL, *head = NULL;

    if (!pub_ready) {
        if (herald_crypto_init() != 0 || herald_crypto_pubkey_parse(&pub, HERALD_FUZZ_PUBKEY) != 0)
            return "golden key does not load";
        pub_ready = 1;
    }
    json_t *cs = herald_jcs_parse((const char *)data, size, HERALD_JCS_STRICT, 0, NULL, 0);
    if (!cs)
        return NULL;
    const json_t *changes = json_object_get(cs, "changes");
    const json_t *sigs = json_object_get(json_object_get(cs, "metadata"), "signatures");
    const json_t *jts = json_object_get(cs, "timestamp");
    int64_t ts = json_is_integer(jts) ? (int64_t)json_integer_value(jts) : -1;
    err[0] = '\0';
    enum herald_monitor_status st = verify(&h, changes, sigs, ts, 0, 0, err, sizeof(err));
    if (strcmp(herald_monitor_status_name(st), "unknown") == 0) {
        bad = "unknown status";
        goto out;
    }
    if (st != HERALD_MONITOR_OK) {
        if (!err[0])
            bad = "refused without a reason";
        goto out;
    }
    size_t n = json_array_size(changes);
    rev = json_array();
    for (size_t i = n; i > 0; i--)
        json_array_append(rev, json_array_get(changes, i - 1));
    if (verify(NULL, rev, sigs, ts, 0, 0, NULL, 0) != HERALD_MONITOR_OK) {
        bad = "reordered entries refused";
        goto out;
    }
    herald_monitor_head_jcs(&b, &h);
    head = herald_jcs_parse(b.data, b.len, 0, 0, NULL, 0);
    if (!head || herald_monitor_head_parse(&h2, head, NULL, 0) != 0 ||
        memcmp(&h, &h2, sizeof(h)) != 0) {
        bad = "head does not round-trip through its JCS";
        goto out;
    }
    if (h.timestamp < 9007199254740991LL &&
        verify(NULL, changes, sigs, ts, 0, h.timestamp + 1, NULL, 0) != HERALD_MONITOR_ROLLBACK) {
        bad = "older than the minimum M not refused as rollback";
        goto out;
    }
    if (h.expires > 0 &&
        verify(NULL, changes, sigs, ts, h.expires, 0, NULL, 0) != HERALD_MONITOR_EXPIRED) {
        bad = "now == expires not refused as expired";
        goto out;
    }
    if (n > 0) {
        cut = json_deep_copy(changes);
        json_array_remove(cut, n / 2);
        if (verify(NULL, cut, sigs, ts, 0, 0, NULL, 0) != HERALD_MONITOR_HASH_MISMATCH) {
            bad = "an entry dropped is not a hash mismatch";
            goto out;
        }
        json_decref(cut);
        cut = json_deep_copy(changes);
        json_t *e = json_array_get(cut, 0);
        json_t *lm = json_object_get(e, "last_modified");
        json_object_set_new(
            e, "last_modified",
            json_integer(json_integer_value(lm) > 0 ? json_integer_value(lm) - 1 : 1));
        if (verify(NULL, cut, sigs, ts, 0, 0, NULL, 0) != HERALD_MONITOR_HASH_MISMATCH) {
            bad = "an entry's version moved is not a hash mismatch";
            goto out;
        }
    }
out:
    json_decref(cs);
    json_decref(rev);
    json_decref(cut);
    json_decref(head);
    herald_buf_free(&b);
    return bad;
}
