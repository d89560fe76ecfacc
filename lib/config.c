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
 * start, not silently fall back to a default. With a program's settings table
 * (herald_settings_load_file) an unknown key is such an error too.
 *
 * The settings tables: herald_settings_read() parses the command line into a second
 * string table (the flags), loads the file and the environment into the first, merges
 * the flags last, then converts every setting of the table (value or default) into the
 * program's struct through its offset. Defaults are text in the table so that they go
 * through the same parser and range check as a value from the file, and show in --help
 * as written.
 */
#include "herald/config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "herald/log.h"
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

static int check_known(const herald_settings_spec *spec, const char *name, const char *path,
                       unsigned long lineno, char *err, size_t errlen);

/* The file parser; with 'spec', a key it does not know is an error. */
static int
load_file(herald_config *c, const herald_settings_spec *spec, const char *path, char *err,
          size_t errlen)
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
        if (spec && check_known(spec, name, path, lineno, err, errlen) < 0)
            goto out;
        herald_config_set(c, name, value);
    }
    rc = 0;
out:
    free(line);
    fclose(f);
    return rc;
}

int
herald_config_load_file(herald_config *c, const char *path, char *err, size_t errlen)
{
    return load_file(c, NULL, path, err, errlen);
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

const char *
herald_config_list_next(const char **list, size_t *len)
{
    const char *l = *list;
    if (!l)
        return NULL;
    l += strspn(l, " ,");
    size_t n = strcspn(l, " ,");
    if (n == 0) {
        *list = l;
        return NULL;
    }
    *list = l + n;
    *len = n;
    return l;
}

int
herald_config_list_has(const char *list, const char *word)
{
    size_t wlen = strlen(word), n;
    for (const char *it; (it = herald_config_list_next(&list, &n));)
        if (n == wlen && memcmp(it, word, n) == 0)
            return 1;
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

int
herald_config_get_int_range(const herald_config *c, const char *name, int64_t def, int64_t min,
                            int64_t max, int64_t *out, char *err, size_t errlen)
{
    if (herald_config_get_int(c, name, def, out) < 0 || *out < min || *out > max) {
        snprintf(err, errlen, "%s: expected an integer from %lld to %lld (got '%s')", name,
                 (long long)min, (long long)max, herald_config_get(c, name, ""));
        return -1;
    }
    return 0;
}

int
herald_config_parse_listen(herald_listen *out, const char *s)
{
    const char *host = s, *colon;
    size_t hl;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':')
            return -1;
        host = s + 1;
        hl = (size_t)(rb - host);
        colon = rb + 1;
    } else {
        colon = strchr(s, ':');
        if (!colon || strchr(colon + 1, ':'))
            return -1; /* none, or an unbracketed IPv6 address */
        hl = (size_t)(colon - s);
        if (memchr(s, ']', hl))
            return -1;
    }
    const char *p = colon + 1;
    size_t pl = strlen(p);
    if (hl == 0 || hl >= sizeof(out->host) || strlen(s) >= sizeof(out->text) || pl == 0 || pl > 5 ||
        strspn(p, "0123456789") != pl)
        return -1;
    int port = atoi(p);
    if (port < 1 || port > 65535)
        return -1;
    memcpy(out->host, host, hl);
    out->host[hl] = '\0';
    out->port = port;
    strcpy(out->text, s);
    return 0;
}

/* --- settings tables ------------------------------------------------------------------ */

/* Levenshtein distance, capped: names are short, and only small distances matter. */
static size_t
distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 127 || lb > 127)
        return 1000;
    size_t row[128];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* The closest name of 'spec' to 'name' when it is close enough to be a typo (at most two
 * edits, and fewer than a third of the name), else NULL. */
static const char *
closest(const herald_settings_spec *spec, const char *name)
{
    const char *best = NULL;
    size_t bestd = (size_t)-1;
    for (size_t i = 0; i < spec->n; i++) {
        if (spec->table[i].opts & HERALD_SETTING_FLAG_ONLY)
            continue;
        size_t d = distance(name, spec->table[i].name);
        if (d < bestd) {
            bestd = d;
            best = spec->table[i].name;
        }
    }
    size_t len = strlen(name);
    return best && bestd <= 2 && bestd * 3 < len ? best : NULL;
}

const herald_setting *
herald_settings_find(const herald_settings_spec *spec, const char *name)
{
    for (size_t i = 0; i < spec->n; i++)
        if (strcmp(spec->table[i].name, name) == 0)
            return &spec->table[i];
    return NULL;
}

const char *
herald_settings_get(const herald_settings_spec *spec, const herald_config *c, const char *name)
{
    const herald_setting *st = herald_settings_find(spec, name);
    return herald_config_get(c, name, st ? st->def : NULL);
}

static int
check_known(const herald_settings_spec *spec, const char *name, const char *path,
            unsigned long lineno, char *err, size_t errlen)
{
    const herald_setting *st = herald_settings_find(spec, name);
    if (st && !(st->opts & HERALD_SETTING_FLAG_ONLY))
        return 0;
    const char *near = closest(spec, name);
    if (near)
        snprintf(err, errlen, "%s:%lu: unknown setting '%s' (did you mean '%s'?)", path, lineno,
                 name, near);
    else
        snprintf(err, errlen, "%s:%lu: unknown setting '%s'", path, lineno, name);
    return -1;
}

int
herald_settings_load_file(const herald_settings_spec *spec, herald_config *c, const char *path,
                          char *err, size_t errlen)
{
    return load_file(c, spec, path, err, errlen);
}

/* "HERALD_" + the name upper-cased, '.' and '-' as '_' (herald_config_load_env's rule). */
static void
env_name(char *out, size_t outlen, const char *name)
{
    size_t n = snprintf(out, outlen, ENV_PREFIX "%s", name);
    for (size_t i = sizeof(ENV_PREFIX) - 1; i < n && i < outlen; i++) {
        unsigned char ch = (unsigned char)out[i];
        out[i] = (ch == '.' || ch == '-') ? '_' : (char)toupper(ch);
    }
}

extern char **environ;

size_t
herald_settings_load_env(const herald_settings_spec *spec, herald_config *c, char *const *envp,
                         const char *const *ignore)
{
    size_t unknown = 0;
    char var[160];
    if (!envp)
        envp = environ;
    for (; *envp; envp++) {
        const char *e = *envp, *eq = strchr(e, '=');
        if (!eq || strncmp(e, ENV_PREFIX, sizeof(ENV_PREFIX) - 1) != 0)
            continue;
        size_t vlen = (size_t)(eq - e);
        const herald_setting *hit = NULL;
        for (size_t i = 0; i < spec->n && !hit; i++) {
            if (spec->table[i].opts & HERALD_SETTING_FLAG_ONLY)
                continue;
            env_name(var, sizeof(var), spec->table[i].name);
            if (strlen(var) == vlen && memcmp(var, e, vlen) == 0)
                hit = &spec->table[i];
        }
        if (hit) {
            herald_config_set(c, hit->name, eq + 1);
            continue;
        }
        int ignored = 0;
        for (const char *const *p = ignore; p && *p && !ignored; p++)
            ignored = strlen(*p) == vlen && memcmp(*p, e, vlen) == 0;
        if (ignored)
            continue;
        unknown++;
        /* Suggest from the variable's own spelling, as a setting name. */
        char name[128];
        size_t nl = vlen - (sizeof(ENV_PREFIX) - 1);
        if (nl >= sizeof(name))
            nl = sizeof(name) - 1;
        for (size_t i = 0; i < nl; i++)
            name[i] = (char)tolower((unsigned char)e[sizeof(ENV_PREFIX) - 1 + i]);
        name[nl] = '\0';
        const char *near = closest(spec, name);
        if (near) {
            env_name(var, sizeof(var), near);
            herald_warn("%s: unknown environment variable %.*s ignored (did you mean %s?)",
                        spec->program, (int)vlen, e, var);
        } else {
            herald_warn("%s: unknown environment variable %.*s ignored (not a setting of this "
                        "program)",
                        spec->program, (int)vlen, e);
        }
    }
    return unknown;
}

static void
store_int(void *field, size_t size, int64_t v)
{
    if (size == sizeof(int64_t)) {
        memcpy(field, &v, sizeof(v));
    } else {
        int i = (int)v;
        memcpy(field, &i, sizeof(i));
    }
}

/* Validates one setting; stores it when it has a field. */
static int
store_one(const herald_setting *st, const herald_config *c, char *base, char *err, size_t errlen)
{
    const char *v = herald_config_get(c, st->name, st->def);
    void *field = st->offset == HERALD_SETTING_NO_FIELD ? NULL : base + st->offset;
    if (!v)
        return 0; /* no value, no default: the caller's field stays */
    switch (st->type) {
    case HERALD_SETTING_STR:
    case HERALD_SETTING_LIST:
        if (field) {
            char *old = *(char **)field;
            *(char **)field = *v ? herald_mem_strdup(v) : NULL;
            free(old);
        }
        return 0;
    case HERALD_SETTING_INT: {
        int64_t i;
        /* The default goes through the same check as a value: one parser. */
        herald_config *one = herald_config_new();
        herald_config_set(one, st->name, v);
        int rc = herald_config_get_int_range(one, st->name, 0, st->min, st->max, &i, err, errlen);
        herald_config_free(one);
        if (rc < 0)
            return -1;
        if (field)
            store_int(field, st->size, i);
        return 0;
    }
    case HERALD_SETTING_BOOL: {
        int b;
        herald_config *one = herald_config_new();
        herald_config_set(one, st->name, v);
        int rc = herald_config_get_bool(one, st->name, 0, &b);
        herald_config_free(one);
        if (rc < 0) {
            snprintf(err, errlen, "%s: expected true or false (got '%s')", st->name, v);
            return -1;
        }
        if (field)
            store_int(field, st->size, b);
        return 0;
    }
    case HERALD_SETTING_LISTEN: {
        herald_listen l;
        if (herald_config_parse_listen(&l, v) < 0) {
            snprintf(err, errlen, "%s: expected HOST:PORT or [IPV6]:PORT (got '%s')", st->name, v);
            return -1;
        }
        if (field)
            memcpy(field, &l, sizeof(l));
        return 0;
    }
    case HERALD_SETTING_LOG_LEVEL: {
        int lvl = herald_log_parse_level(v);
        if (lvl < 0) {
            snprintf(err, errlen, "%s: expected debug, info, warn or error (got '%s')", st->name,
                     v);
            return -1;
        }
        if (field)
            store_int(field, st->size, lvl);
        return 0;
    }
    }
    return 0;
}

int
herald_settings_store(const herald_settings_spec *spec, const herald_config *c, void *out,
                      char *err, size_t errlen)
{
    for (size_t i = 0; i < spec->n; i++)
        if (store_one(&spec->table[i], c, out, err, errlen) < 0)
            return -1;
    return 0;
}

void
herald_settings_free(const herald_settings_spec *spec, void *out)
{
    if (!out)
        return;
    for (size_t i = 0; i < spec->n; i++) {
        const herald_setting *st = &spec->table[i];
        if (st->offset == HERALD_SETTING_NO_FIELD ||
            (st->type != HERALD_SETTING_STR && st->type != HERALD_SETTING_LIST))
            continue;
        char **field = (char **)((char *)out + st->offset);
        free(*field);
        *field = NULL;
    }
}

static const char *const metavar[] = {
    [HERALD_SETTING_STR] = "TEXT",
    [HERALD_SETTING_LIST] = "LIST",
    [HERALD_SETTING_INT] = "N",
    [HERALD_SETTING_BOOL] = "BOOL",
    [HERALD_SETTING_LISTEN] = "HOST:PORT",
    [HERALD_SETTING_LOG_LEVEL] = "LEVEL",
};

void
herald_settings_usage(const herald_settings_spec *spec, FILE *f)
{
    char var[160];
    fputs(spec->synopsis, f);
    fputs("\nSettings (config file key; environment variable; flag):\n", f);
    for (size_t i = 0; i < spec->n; i++) {
        const herald_setting *st = &spec->table[i];
        if (st->opts & HERALD_SETTING_FLAG_ONLY) {
            fprintf(f, "  --%s %s\n", st->flag, metavar[st->type]);
        } else {
            env_name(var, sizeof(var), st->name);
            fprintf(f, "  %s = %s; %s", st->name, metavar[st->type], var);
            if (st->flag)
                fprintf(f, "; --%s%s", st->flag,
                        st->type == HERALD_SETTING_LIST ? " (repeatable)" : "");
            else if (spec->any_flag)
                fprintf(f, "; --%s", st->name);
            fputc('\n', f);
        }
        fprintf(f, "      %s", st->help);
        if (st->type == HERALD_SETTING_INT)
            fprintf(f, " [%lld..%lld]", (long long)st->min, (long long)st->max);
        if (st->def && *st->def)
            fprintf(f, " (default %s)", st->def);
        fputc('\n', f);
    }
    fputs("  --config FILE\n      'key = value' lines, '#' comments (Kinto names; \"kinto.\" "
          "prefix accepted)\n  --help\n      this text\n",
          f);
    if (spec->epilog)
        fputs(spec->epilog, f);
}

/* The setting a flag names: its own flag, or (any_flag) its name with '-' for '_'. */
static const herald_setting *
find_flag(const herald_settings_spec *spec, const char *flag, size_t len)
{
    const herald_setting *prefix = NULL;
    int nprefix = 0;
    for (size_t i = 0; i < spec->n; i++) {
        const herald_setting *st = &spec->table[i];
        if (st->flag && strlen(st->flag) == len && strncmp(st->flag, flag, len) == 0)
            return st;
        if (spec->any_flag && !(st->opts & HERALD_SETTING_FLAG_ONLY) && strlen(st->name) == len) {
            size_t k = 0;
            while (k < len && (st->name[k] == flag[k] || (st->name[k] == '_' && flag[k] == '-')))
                k++;
            if (k == len)
                return st;
        }
        /* getopt_long's unique abbreviations of the declared flags. */
        if (st->flag && strlen(st->flag) > len && strncmp(st->flag, flag, len) == 0) {
            prefix = st;
            nprefix++;
        }
    }
    return nprefix == 1 ? prefix : NULL;
}

enum herald_settings_rc
herald_settings_parse_args(const herald_settings_spec *spec, herald_config *flags,
                           const char **config_file, int argc, char **argv, char *err,
                           size_t errlen)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return HERALD_SETTINGS_HELP;
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            snprintf(err, errlen, "unexpected argument '%s'", a);
            return HERALD_SETTINGS_USAGE;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const char *value;
        if (eq) {
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            snprintf(err, errlen, "%s needs a value", a);
            return HERALD_SETTINGS_USAGE;
        }
        if (len == 6 && strncmp(name, "config", 6) == 0) {
            *config_file = value;
            continue;
        }
        const herald_setting *st = find_flag(spec, name, len);
        if (!st) {
            snprintf(err, errlen, "unknown option '--%.*s'", (int)len, name);
            return HERALD_SETTINGS_USAGE;
        }
        const char *prev = herald_config_get(flags, st->name, NULL);
        if (st->type == HERALD_SETTING_LIST && prev) {
            herald_buf b = HERALD_BUF_INIT;
            herald_buf_printf(&b, "%s %s", prev, value);
            herald_config_set(flags, st->name, herald_buf_cstr(&b));
            herald_buf_free(&b);
        } else {
            herald_config_set(flags, st->name, value);
        }
    }
    return HERALD_SETTINGS_OK;
}

enum herald_settings_rc
herald_settings_read(const herald_settings_spec *spec, int argc, char **argv,
                     const char *const *ignore_env, void *out, herald_config *c)
{
    herald_config *own = c ? NULL : herald_config_new(), *flags = herald_config_new();
    herald_config *cfg = c ? c : own;
    const char *config_file = NULL;
    char err[512];
    enum herald_settings_rc rc =
        herald_settings_parse_args(spec, flags, &config_file, argc, argv, err, sizeof(err));
    if (rc == HERALD_SETTINGS_HELP) {
        herald_settings_usage(spec, stdout);
        goto out;
    }
    if (rc == HERALD_SETTINGS_USAGE) {
        fprintf(stderr, "%s: %s\n", spec->program, err);
        herald_settings_usage(spec, stderr);
        goto out;
    }
    rc = HERALD_SETTINGS_INVALID;
    if (config_file && herald_settings_load_file(spec, cfg, config_file, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s: %s\n", spec->program, err);
        goto out;
    }
    herald_settings_load_env(spec, cfg, NULL, ignore_env);
    herald_config_merge(cfg, flags);
    if (herald_settings_store(spec, cfg, out, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s: %s\n", spec->program, err);
        goto out;
    }
    rc = HERALD_SETTINGS_OK;
out:
    herald_config_free(flags);
    herald_config_free(own);
    return rc;
}
