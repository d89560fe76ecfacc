/*
 * config -- see include/herald/config.h.
 *
 * A table is a small array of (name, value) string pairs, searched linearly: a program
 * has a few dozen settings, builds the table once at start and reads it afterwards, so
 * a hash table would buy nothing but code. Setting a name that exists replaces its
 * value in place, which gives the precedence rules for free: load defaults, then the
 * file, then the environment, then merge the flags; the last writer wins.
 *
 * File syntax (a strict subset of Kinto's .ini settings, without sections):
 *
 *     # comment                      '#' only starts a comment at the start of a line,
 *     kinto.paginate_by = 100        so values may contain '#' (passwords, URLs).
 *     redis_url=redis://h:6379/0     Spaces around the key and value are trimmed.
 *
 * Anything else (a "[section]" header, a line without '=', an empty or odd key) is an
 * error with "FILE:LINE: reason": a typo in a config file should stop the program at
 * start, not silently fall back to a default.
 */
#include "herald/config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "herald/mem.h"

struct entry {
    char *name;
    char *value;
};

struct herald_config {
    struct entry *entries;
    size_t len;
    size_t cap;
};

#define KINTO_PREFIX "kinto."
#define ENV_PREFIX "HERALD_"

herald_config *
herald_config_new(void)
{
    return herald_mem_calloc(1, sizeof(herald_config));
}

void
herald_config_free(herald_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->len; i++) {
        free(c->entries[i].name);
        free(c->entries[i].value);
    }
    free(c->entries);
    free(c);
}

static struct entry *
find(const herald_config *c, const char *name)
{
    for (size_t i = 0; i < c->len; i++)
        if (strcmp(c->entries[i].name, name) == 0)
            return &c->entries[i];
    return NULL;
}

void
herald_config_set(herald_config *c, const char *name, const char *value)
{
    struct entry *e = find(c, name);
    if (e) {
        /* Copy first: 'value' may point into the string being replaced. */
        char *v = herald_mem_strdup(value);
        free(e->value);
        e->value = v;
        return;
    }
    if (c->len == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->entries = herald_mem_realloc(c->entries, c->cap * sizeof(*c->entries));
    }
    c->entries[c->len].name = herald_mem_strdup(name);
    c->entries[c->len].value = herald_mem_strdup(value);
    c->len++;
}

/* Trims ASCII whitespace in place; returns the start of the trimmed string. */
static char *
trim(char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* Setting names are Kinto's: letters, digits, '_', '.', '-'. */
static int
valid_name(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.' && *s != '-')
            return 0;
    return 1;
}

int
herald_config_load_file(herald_config *c, const char *path, char *err, size_t errlen)
{
    int rc = -1;
    char *line = NULL;
    size_t cap = 0;
    unsigned long lineno = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    for (;;) {
        errno = 0;
        ssize_t n = getline(&line, &cap, f);
        if (n < 0) {
            if (ferror(f)) {
                snprintf(err, errlen, "%s:%lu: %s", path, lineno + 1, strerror(errno));
                goto out;
            }
            break;
        }
        lineno++;
        if ((size_t)n != strlen(line)) {
            snprintf(err, errlen, "%s:%lu: NUL byte in line", path, lineno);
            goto out;
        }
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%lu: expected 'name = value'", path, lineno);
            goto out;
        }
        *eq = '\0';
        char *name = trim(s);
        char *value = trim(eq + 1);
        if (strncmp(name, KINTO_PREFIX, strlen(KINTO_PREFIX)) == 0)
            name += strlen(KINTO_PREFIX);
        if (!valid_name(name)) {
            snprintf(err, errlen, "%s:%lu: invalid setting name '%s'", path, lineno, name);
            goto out;
        }
        herald_config_set(c, name, value);
    }
    rc = 0;
out:
    free(line);
    fclose(f);
    return rc;
}

void
herald_config_load_env(herald_config *c, const char *const *names)
{
    for (; *names; names++) {
        size_t n = strlen(*names);
        char *var = herald_mem_alloc(sizeof(ENV_PREFIX) + n);
        memcpy(var, ENV_PREFIX, sizeof(ENV_PREFIX) - 1);
        for (size_t i = 0; i < n; i++) {
            unsigned char ch = (unsigned char)(*names)[i];
            /* Environment variable names cannot hold '.' or '-' portably. */
            var[sizeof(ENV_PREFIX) - 1 + i] = (ch == '.' || ch == '-') ? '_' : (char)toupper(ch);
        }
        var[sizeof(ENV_PREFIX) - 1 + n] = '\0';
        const char *v = getenv(var);
        if (v)
            herald_config_set(c, *names, v);
        free(var);
    }
}

void
herald_config_merge(herald_config *c, const herald_config *from)
{
    for (size_t i = 0; i < from->len; i++)
        herald_config_set(c, from->entries[i].name, from->entries[i].value);
}

const char *
herald_config_get(const herald_config *c, const char *name, const char *def)
{
    const struct entry *e = find(c, name);
    return e ? e->value : def;
}

int
herald_config_get_int(const herald_config *c, const char *name, int64_t def, int64_t *out)
{
    const struct entry *e = find(c, name);
    if (!e) {
        *out = def;
        return 0;
    }
    const char *s = e->value;
    /* strtoll accepts leading spaces and "0x" forms only with base 0; we want plain
     * decimal with an optional sign and nothing else. */
    const char *p = (*s == '-' || *s == '+') ? s + 1 : s;
    if (!isdigit((unsigned char)*p))
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno == ERANGE || *end != '\0')
        return -1;
    *out = (int64_t)v;
    return 0;
}

int
herald_config_get_bool(const herald_config *c, const char *name, int def, int *out)
{
    static const char *const truthy[] = {"true", "yes", "on", "1"};
    static const char *const falsy[] = {"false", "no", "off", "0"};
    const struct entry *e = find(c, name);
    if (!e) {
        *out = def;
        return 0;
    }
    for (size_t i = 0; i < sizeof(truthy) / sizeof(truthy[0]); i++) {
        if (strcasecmp(e->value, truthy[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(e->value, falsy[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}
