/*
 * schema -- Kinto's collection JSON schemas (kinto/schema_validation.py and the
 * process_object of kinto/views/records.py, collections.py, groups.py), over the
 * validator of include/herald/jsonschema.h.
 *
 * Two things happen on a write, both answered with Kinto's 400 errno 107:
 *
 *   the schema attributes   a collection's `schema`, a bucket's `record:schema`,
 *                           `collection:schema`, `group:schema` must be valid schemas
 *                           (Draft 7's meta-schema, then compiled). Kinto checks them
 *                           whether validation is on or not, and so does this module.
 *   the data                with experimental_collection_schema_validation on, a record
 *                           is validated against its collection's `schema`, then its
 *                           bucket's `record:schema`; a collection or a group against
 *                           its bucket's `collection:schema` / `group:schema`. A record
 *                           validated against its collection's schema gets `schema` =
 *                           the collection's last_modified (the schema version).
 *
 * As Kinto does, `last_modified` (and for records `schema`) are removed from the data
 * before validation and from the schema's top-level `required`; so is `id`, unless the
 * schema's `properties` names it. `attachment` is an ordinary field (Kinto strips it
 * neither; herald has no attachment upload).
 *
 * Compiled schemas are cached per (attribute, bucket, collection, version), the version
 * being the last_modified of the object holding the schema: a new version replaces the
 * entry of the old one, and the cache keeps at most 'cache_size' entries, dropping the
 * least recently used. A lookup that hits parses nothing. The cache belongs to the
 * publisher's one event-loop thread.
 */
#ifndef HERALD_PUB_SCHEMA_H
#define HERALD_PUB_SCHEMA_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "path.h"

typedef struct pub_schema_opts {
    int enabled;        /* experimental_collection_schema_validation (Kinto: off) */
    int64_t cache_size; /* schema_cache_size: compiled schemas kept */
} pub_schema_opts;

#define PUB_SCHEMA_OPTS_DEFAULT                                                                    \
    {                                                                                              \
        0, 256                                                                                     \
    }

typedef struct pub_schema pub_schema;

/* A schema cache with options 'o' (NULL: the defaults). Never NULL (aborts on OOM). */
pub_schema *pub_schema_new(const pub_schema_opts *o);
void pub_schema_free(pub_schema *s); /* NULL-safe */

/* 1 when validation is on ('s' may be NULL: off). */
int pub_schema_enabled(const pub_schema *s);

/* Checks the schema attributes in 'data', the new data of an object of kind 'res'.
 * Returns 0, or -1 after replying 400 on 'r' (name "data.<attribute>"). */
int pub_schema_check_attrs(pub_resp *r, enum pub_res res, const json_t *data)
    __attribute__((warn_unused_result));

/* The stored objects above the one being written: level 0 (the bucket) and, for a
 * record, level 1 (its collection), as stored JSON with their last_modified. */
typedef struct pub_schema_parents {
    const char *bucket_id;
    const char *bucket_json;
    size_t bucket_len;
    const char *collection_id; /* NULL unless a record is written */
    const char *collection_json;
    size_t collection_len;
} pub_schema_parents;

/* Validates 'data', the new data of an object of kind 'res' under 'parents', when
 * validation is on; for a record validated against its collection's schema, sets
 * data["schema"]. Returns 0, or -1 after replying 400 on 'r'. */
int pub_schema_validate(pub_schema *s, pub_resp *r, enum pub_res res,
                        const pub_schema_parents *parents, json_t *data)
    __attribute__((warn_unused_result));

/* The number of compiled schemas held (tests). */
size_t pub_schema_cached(const pub_schema *s);

#endif
