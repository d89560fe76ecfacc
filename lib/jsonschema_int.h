/*
 * jsonschema_int -- the compiled form shared by lib/jsonschema.c (compiler) and
 * lib/jsonschema_eval.c (validator). Not part of the public API.
 *
 * A compiled schema is an array of nodes, one per schema location reached from the root
 * (through subschema keywords or references). A node holds its keywords in document
 * order, each with its operands pre-digested: child schemas as node indices (a `$ref`
 * is just a child), regular expressions compiled, numbers left in the json_t the
 * compiled object keeps a reference to.
 */
#ifndef HERALD_JSONSCHEMA_INT_H
#define HERALD_JSONSCHEMA_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdbool.h>
#include <string.h>

#include "herald/jsonschema.h"
#include "herald/mem.h"

enum kwkind {
    KW_REF,          /* child */
    KW_DYNREF,       /* child (static target), name (dynamic anchor or NULL) */
    KW_TYPE,         /* mask */
    KW_ENUM,         /* val */
    KW_CONST,        /* val */
    KW_MULTIPLEOF,   /* val */
    KW_MAXIMUM,      /* val */
    KW_EXMAXIMUM,    /* val */
    KW_MINIMUM,      /* val */
    KW_EXMINIMUM,    /* val */
    KW_MAXLENGTH,    /* n */
    KW_MINLENGTH,    /* n */
    KW_PATTERN,      /* re */
    KW_MAXITEMS,     /* n */
    KW_MINITEMS,     /* n */
    KW_UNIQUEITEMS,  /* (only when true) */
    KW_MAXPROPS,     /* n */
    KW_MINPROPS,     /* n */
    KW_REQUIRED,     /* val (array of strings) */
    KW_DEPREQUIRED,  /* props: key -> val array (child -1) */
    KW_DEPSCHEMAS,   /* props: key -> child (Draft 7 dependencies: either, per key) */
    KW_ALLOF,        /* kids */
    KW_ANYOF,        /* kids */
    KW_ONEOF,        /* kids */
    KW_NOT,          /* child */
    KW_IF,           /* child, child2 (then or -1), child3 (else or -1) */
    KW_PREFIXITEMS,  /* kids (2020-12 prefixItems, Draft 7 array-form items) */
    KW_ITEMS,        /* child, n = index to start at */
    KW_CONTAINS,     /* child, n = minContains, n2 = maxContains (-1: none) */
    KW_PROPERTIES,   /* props */
    KW_PATTERNPROPS, /* pats */
    KW_ADDPROPS,     /* child; uses the node's properties and patternProperties */
    KW_PROPNAMES,    /* child */
    KW_UNEVALITEMS,  /* child */
    KW_UNEVALPROPS,  /* child */
    KW_NKINDS
};

struct prop {
    const char *key;
    size_t keylen;
    int child;         /* node, or -1 */
    const json_t *val; /* dependentRequired / dependencies array */
};

struct pat {
    pcre2_code *re;
    const char *src;
    int child;
};

struct kw {
    enum kwkind kind;
    const char *name; /* the keyword as written (for errors), or the dynamic anchor */
    const json_t *val;
    int child, child2, child3;
    long long n, n2;
    unsigned mask;
    pcre2_code *re;
    int *kids;
    size_t nkids;
    struct prop *props; /* sorted by key for lookups; order[] keeps document order */
    size_t nprops;
    size_t *order;
    struct pat *pats;
    size_t npats;
    int props_kw, pats_kw; /* additionalProperties: sibling keyword indices, or -1 */
};

struct node {
    const json_t *json;
    int resource; /* index into resources: the schema resource this node belongs to */
    bool is_bool, bool_value;
    bool ann; /* has unevaluatedProperties / unevaluatedItems */
    bool draft7;
    struct kw *kws;
    size_t nkws;
};

struct dynanchor {
    char *name;
    int node;
};

struct resource {
    char *uri;          /* absolute, without fragment */
    const json_t *root; /* the schema object carrying the $id (or the document) */
    struct dynanchor *dyn;
    size_t ndyn;
};

struct herald_jsonschema {
    json_t *doc; /* reference held */
    enum herald_jsonschema_dialect dialect;
    struct node *nodes;
    size_t nnodes;
    struct resource *res;
    size_t nres;
    pcre2_match_context *mctx;
    json_t *meta; /* built-in meta-schemas loaded for references, or NULL */
};

/* Evaluation bounds (docs/schema.md). */
#define JS_MAX_DEPTH 500       /* schema nesting, and validation recursion */
#define JS_MAX_STEPS 2000000   /* keyword evaluations and comparisons per validation */
#define JS_MATCH_LIMIT 1000000 /* pcre2_set_match_limit */
#define JS_DEPTH_LIMIT 10000   /* pcre2_set_depth_limit */
#define JS_REGEX_BUDGET (20 * (size_t)JS_MATCH_LIMIT) /* match limits granted per validation */
#define JS_REGEX_QUICK 64 /* + the subject's length: a match's first, small limit */

/* Type mask bits, in python-jsonschema's type names order. */
enum {
    T_NULL = 1,
    T_BOOLEAN = 2,
    T_OBJECT = 4,
    T_ARRAY = 8,
    T_NUMBER = 16,
    T_STRING = 32,
    T_INTEGER = 64,
};

/* lib/jsonschema_meta.c: the built-in meta-schemas, ended by {NULL, NULL}. */
struct herald_jsonschema__meta {
    const char *uri;
    const char *text;
};
extern const struct herald_jsonschema__meta herald_jsonschema__metas[];

/* Byte order of two object keys, the shorter first on a common prefix: code point order
 * for UTF-8, as python's sorted(); the order of struct prop arrays. */
static inline int
herald_jsonschema__keycmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int r = memcmp(a, b, alen < blen ? alen : blen);
    return r ? r : (alen > blen) - (alen < blen);
}

/* lib/jsonschema_eval.c, used by the compiler for values and messages. */
bool herald_jsonschema__equal(const json_t *a, const json_t *b);
int herald_jsonschema__cmp(const json_t *a, const json_t *b);
void herald_jsonschema__repr(herald_buf *b, const json_t *v);

#endif
