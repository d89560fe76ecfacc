/*
 * test_delta_model -- the model collection the delta tests drive through random edit
 * sequences (test_delta.c: states; test_server_delta.c: the read server's bodies), and
 * its publication as the signer does it: a full blob and a delta per version. Static
 * helpers, included by one test file each.
 */
#ifndef HERALD_TEST_DELTA_MODEL_H
#define HERALD_TEST_DELTA_MODEL_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/crypto.h"
#include "herald/delta.h"
#include "herald/jcs.h"
#include "herald/snapshot.h"

#define NIDS 48
#define BID "main"
#define CID "certs"

typedef struct model {
    json_t *live[NIDS]; /* record or NULL */
    int64_t tomb[NIDS]; /* tombstone last_modified, 0: none */
    int changed[NIDS];  /* since the previous version */
    int64_t clock, version, cutoff;
    json_t *attrs, *bucket_attrs;
    unsigned seed;
} model;

static herald_signkey *g_key;

static unsigned
rnd(model *m)
{
    m->seed = m->seed * 1103515245u + 12345u;
    return (m->seed >> 8) & 0xffffff;
}

static void
id_of(char *out, int i)
{
    /* Ids of different lengths and cases, so byte order is not index order. */
    static const char *pre[] = {"a", "B", "rec-", "z_", "0"};
    sprintf(out, "%s%d", pre[i % 5], i);
}

static json_t *
random_record(model *m, int i)
{
    static const char *vals[] = {
        "plain",  "quote\" inside",    "back\\slash", "br]ack[et", "{brace}",
        "com,ma", "snow \xe2\x98\x83", "nl\n\ttab",   "",          "\xf0\x9f\x98\x80 emoji"};
    char id[32];
    id_of(id, i);
    json_t *r = json_object();
    json_object_set_new(r, "id", json_string(id));
    json_object_set_new(r, "last_modified", json_integer(++m->clock));
    json_object_set_new(r, "value", json_string(vals[rnd(m) % 10]));
    if (rnd(m) % 3 == 0)
        json_object_set_new(r, "nested",
                            json_pack("{s:[i,s,{s:b}], s:f}", "list", (int)(rnd(m) % 100), "x]",
                                      "ok", 1, "ratio", (double)(rnd(m) % 1000) / 7.0));
    return r;
}

/* One random version's worth of changes. */
static void
random_edits(model *m)
{
    unsigned kind = rnd(m) % 10;
    if (kind == 0) { /* collection attributes change, no record */
        json_object_set_new(m->attrs, "displayFields",
                            json_pack("[s,i]", "value", (int)(rnd(m) % 50)));
        return;
    }
    if (kind == 1)
        return; /* re-sign: a new version over the same records */
    if (kind == 2) {
        /* The horizon passes some tombstones (and never moves back). */
        int64_t c = m->clock - (int64_t)(rnd(m) % 20);
        if (c > m->cutoff)
            m->cutoff = c;
        return;
    }
    if (kind == 3)
        json_object_set_new(m->bucket_attrs, "note", json_integer(rnd(m) % 9));
    int n = 1 + (int)(rnd(m) % 4);
    for (int k = 0; k < n; k++) {
        int i = (int)(rnd(m) % NIDS);
        if (m->live[i] && rnd(m) % 3 == 0) { /* delete */
            json_decref(m->live[i]);
            m->live[i] = NULL;
            m->tomb[i] = ++m->clock;
        } else { /* create, update or re-create */
            json_decref(m->live[i]);
            m->live[i] = random_record(m, i);
            m->tomb[i] = 0;
        }
        m->changed[i] = 1;
    }
}

static int
idx_cmp(const void *a, const void *b)
{
    char x[32], y[32];
    id_of(x, *(const int *)a);
    id_of(y, *(const int *)b);
    return strcmp(x, y);
}

/* The ids in byte order. */
static void
sorted_ids(int order[NIDS])
{
    for (int i = 0; i < NIDS; i++)
        order[i] = i;
    qsort(order, NIDS, sizeof(int), idx_cmp);
}

static void
tomb_json(herald_buf *b, int i, int64_t lm)
{
    char id[32];
    id_of(id, i);
    json_t *t = json_pack("{s:b,s:s,s:I}", "deleted", 1, "id", id, "last_modified", (json_int_t)lm);
    cr_assert(herald_jcs_dump(b, t) == 0);
    json_decref(t);
}

/* Signs the model as a new version: the full blob in 'blob', the delta from the
 * previous version in 'delta' (as signer/publish.c builds it). */
static void
publish(model *m, herald_buf *blob, herald_buf *delta)
{
    int order[NIDS];
    sorted_ids(order);
    int64_t base = m->version;
    m->version = ++m->clock;
    herald_buf recs = HERALD_BUF_INIT, tombs = HERALD_BUF_INIT, drecs = HERALD_BUF_INIT,
               dtombs = HERALD_BUF_INIT;
    size_t n = 0;
    herald_buf_putc(&recs, '[');
    herald_buf_putc(&tombs, '[');
    herald_buf_putc(&drecs, '[');
    herald_buf_putc(&dtombs, '[');
    for (int k = 0; k < NIDS; k++) {
        int i = order[k];
        if (m->live[i]) {
            if (n++)
                herald_buf_putc(&recs, ',');
            cr_assert(herald_jcs_dump(&recs, m->live[i]) == 0);
        } else if (m->tomb[i] > m->cutoff) {
            if (tombs.len > 1)
                herald_buf_putc(&tombs, ',');
            tomb_json(&tombs, i, m->tomb[i]);
        }
        if (!m->changed[i])
            continue;
        m->changed[i] = 0;
        if (m->live[i]) {
            if (drecs.len > 1)
                herald_buf_putc(&drecs, ',');
            cr_assert(herald_jcs_dump(&drecs, m->live[i]) == 0);
        } else {
            /* Even a tombstone already past the horizon: the reader drops it again. */
            if (dtombs.len > 1)
                herald_buf_putc(&dtombs, ',');
            tomb_json(&dtombs, i, m->tomb[i]);
        }
    }
    herald_buf_putc(&recs, ']');
    herald_buf_putc(&tombs, ']');
    herald_buf_putc(&drecs, ']');
    herald_buf_putc(&dtombs, ']');

    herald_head h = {BID, CID, m->version, m->version + 86400000, (int64_t)n, {0}};
    herald_crypto_sha256_hex(h.sha256, recs.data, recs.len);
    json_t *sigs = json_array();
    json_array_append_new(sigs, herald_snapshot_sign_entry(g_key, &h));
    herald_snapshot_parts parts = {.bucket = BID,
                                   .collection = CID,
                                   .timestamp = m->version,
                                   .metadata = m->attrs,
                                   .bucket_data = m->bucket_attrs,
                                   .signatures = sigs,
                                   .records_json = recs.data,
                                   .records_len = recs.len,
                                   .tombstones_json = tombs.data,
                                   .tombstones_len = tombs.len,
                                   .tombstones_since = m->cutoff};
    herald_buf_reset(blob);
    cr_assert(herald_snapshot_encode(blob, &parts, 1) == 0);
    herald_delta_parts d = {.bucket = BID,
                            .collection = CID,
                            .base = base,
                            .timestamp = m->version,
                            .tombstones_since = m->cutoff,
                            .metadata = m->attrs,
                            .bucket_data = m->bucket_attrs,
                            .signatures = sigs,
                            .records_json = drecs.data,
                            .records_len = drecs.len,
                            .tombstones_json = dtombs.data,
                            .tombstones_len = dtombs.len};
    herald_buf_reset(delta);
    cr_assert(herald_delta_encode(delta, &d) == 0);
    json_decref(sigs);
    herald_buf_free(&recs);
    herald_buf_free(&tombs);
    herald_buf_free(&drecs);
    herald_buf_free(&dtombs);
}

static void
model_init(model *m, unsigned seed)
{
    memset(m, 0, sizeof(*m));
    m->seed = seed;
    m->clock = 1700000000000LL;
    m->attrs = json_pack("{s:s,s:I}", "id", CID, "last_modified", (json_int_t)m->clock);
    m->bucket_attrs = json_pack("{s:s}", "id", BID);
}

static void
model_free(model *m)
{
    for (int i = 0; i < NIDS; i++)
        json_decref(m->live[i]);
    json_decref(m->attrs);
    json_decref(m->bucket_attrs);
}
#endif
