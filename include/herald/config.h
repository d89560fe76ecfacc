/*
 * config -- settings from defaults, a file, the environment and flags, in that order of
 * precedence (flags win).
 *
 * File: "key = value" lines, '#' comments, blank lines ignored; keys are Kinto's setting
 * names without the "kinto." prefix (which is accepted and stripped). Environment:
 * HERALD_<NAME> with the name upper-cased and dots replaced by underscores.
 * A program builds one table at start, validates it, and only reads it afterwards.
 *
 * On top of that string table, a program declares its settings once, as data: an array
 * of herald_setting (name, type, default, range, flag, one line of help, where the value
 * goes in the program's own struct). herald_settings_read() then does everything a main()
 * used to hand-roll: the command line (--FLAG VALUE, --FLAG=VALUE, --config FILE, --help),
 * the file (an unknown key stops the program with "FILE:LINE: unknown setting 'x' (did you
 * mean 'y'?)"), the environment (HERALD_<NAME>; an unknown HERALD_* variable is named in a
 * warning), validation with a message naming the setting, and the struct's values. The
 * environment variable of a setting is always derived from its name, so it is not a column.
 */
#ifndef HERALD_CONFIG_H
#define HERALD_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct herald_config herald_config;

herald_config *herald_config_new(void);
void herald_config_free(herald_config *c); /* NULL-safe */
/* Sets (replaces) a value; both strings are copied. */
void herald_config_set(herald_config *c, const char *name, const char *value);
/* Loads a file; returns 0 or -1 with "FILE:LINE: reason" in 'err'. */
int herald_config_load_file(herald_config *c, const char *path, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* For each name in the NULL-terminated 'names', takes HERALD_<NAME> when set. */
void herald_config_load_env(herald_config *c, const char *const *names);
/* Copies every value of 'from' into 'c' (for applying flags last). */
void herald_config_merge(herald_config *c, const herald_config *from);
const char *herald_config_get(const herald_config *c, const char *name, const char *def);
/* Integer value; returns -1 (and leaves *out) if set but not an integer. */
int herald_config_get_int(const herald_config *c, const char *name, int64_t def, int64_t *out);
/* Boolean: true/false/yes/no/on/off/1/0; returns -1 if set but not one of these. */
int herald_config_get_bool(const herald_config *c, const char *name, int def, int *out);

/* The items of a list setting (HERALD_SETTING_LIST: separated by spaces and/or commas),
 * one per call: returns the next item's start and sets *len, or NULL at the end; the
 * cursor *list advances past it. NULL *list is an empty list.
 *   for (const char *l = v, *it; (it = herald_config_list_next(&l, &n));) ... */
const char *herald_config_list_next(const char **list, size_t *len);
/* 1 if 'word' is an item of 'list'. */
int herald_config_list_has(const char *list, const char *word);

/*
 * A listen address: "HOST:PORT" or "[IPV6]:PORT". HOST is not empty and, unbracketed,
 * holds no ':' (an unbracketed IPv6 address cannot be told from its port); PORT is
 * 1..65535 in decimal digits only. Returns 0, or -1 (leaving 'out' unspecified).
 */
typedef struct herald_listen {
    char host[256];
    int port;
    char text[300]; /* as given */
} herald_listen;
int herald_config_parse_listen(herald_listen *out, const char *s)
    __attribute__((warn_unused_result));

/* Integer in [min, max]; returns 0, or -1 with "NAME: expected an integer from MIN to MAX
 * (got 'V')" in 'err'. */
int herald_config_get_int_range(const herald_config *c, const char *name, int64_t def, int64_t min,
                                int64_t max, int64_t *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

enum herald_setting_type {
    HERALD_SETTING_STR,       /* char * (strdup'd; NULL when empty) */
    HERALD_SETTING_LIST,      /* char *; a repeated flag appends, space-separated */
    HERALD_SETTING_INT,       /* int or int64_t (by the field's size), in [min, max] */
    HERALD_SETTING_BOOL,      /* int: true/false/yes/no/on/off/1/0 */
    HERALD_SETTING_LISTEN,    /* herald_listen */
    HERALD_SETTING_LOG_LEVEL, /* int: an enum herald_log_level */
};

/* A setting that exists only as a flag (no file key, no environment variable). */
#define HERALD_SETTING_FLAG_ONLY 1u

typedef struct herald_setting {
    const char *name; /* the file key; HERALD_<NAME> in the environment */
    enum herald_setting_type type;
    const char *def; /* default, as text; NULL: none (the field keeps what the caller put) */
    int64_t min, max;
    const char *flag; /* command-line flag without "--", NULL: none */
    const char *help; /* one line */
    size_t offset;    /* of the field in the program's struct; HERALD_SETTING_NO_FIELD */
    size_t size;      /* of that field */
    unsigned opts;    /* HERALD_SETTING_FLAG_ONLY */
} herald_setting;

#define HERALD_SETTING_NO_FIELD ((size_t)-1)
/* Field helpers: HERALD_FIELD(struct_type, member) gives .offset and .size. */
#define HERALD_FIELD(type, member)                                                                 \
    .offset = offsetof(type, member), .size = sizeof(((type *)0)->member)
#define HERALD_NO_FIELD .offset = HERALD_SETTING_NO_FIELD, .size = 0

/* Every setting of one program. */
typedef struct herald_settings_spec {
    const char *program;  /* "herald-server": prefixes messages */
    const char *synopsis; /* first lines of --help */
    const char *epilog;   /* last lines of --help, or NULL */
    const herald_setting *table;
    size_t n;
    int any_flag; /* every setting is also a flag: --NAME, '-' or '_' alike */
} herald_settings_spec;

enum herald_settings_rc {
    HERALD_SETTINGS_OK = 0,
    HERALD_SETTINGS_HELP,    /* --help: usage printed on stdout */
    HERALD_SETTINGS_USAGE,   /* bad command line: reason and usage printed on stderr */
    HERALD_SETTINGS_INVALID, /* bad file or value: reason printed on stderr */
};

/* The setting called 'name', or NULL. */
const herald_setting *herald_settings_find(const herald_settings_spec *spec, const char *name);
/* Its value in 'c', else its default (may be NULL). */
const char *herald_settings_get(const herald_settings_spec *spec, const herald_config *c,
                                const char *name);
/* Parses argv (argv[0] is the program) into 'flags' and '*config_file'. Returns OK, HELP,
 * or USAGE with the reason in 'err'. */
enum herald_settings_rc herald_settings_parse_args(const herald_settings_spec *spec,
                                                   herald_config *flags, const char **config_file,
                                                   int argc, char **argv, char *err, size_t errlen);
/* herald_config_load_file, but a key that is no setting of 'spec' is an error:
 * "FILE:LINE: unknown setting 'x'" plus " (did you mean 'y'?)" when one is close. */
int herald_settings_load_file(const herald_settings_spec *spec, herald_config *c, const char *path,
                              char *err, size_t errlen) __attribute__((warn_unused_result));
/* Takes HERALD_<NAME> for every setting from 'envp' (NULL: the process environment) and
 * logs a warning naming each other HERALD_* variable, except those in the NULL-terminated
 * 'ignore' (may be NULL: variables read elsewhere, e.g. a password). Returns how many
 * were unknown. */
size_t herald_settings_load_env(const herald_settings_spec *spec, herald_config *c,
                                char *const *envp, const char *const *ignore);
/* Validates every setting of 'c' (or its default) and stores it in 'out'. Returns 0, or
 * -1 with "NAME: reason" in 'err' (strings already stored stay; herald_settings_free). */
int herald_settings_store(const herald_settings_spec *spec, const herald_config *c, void *out,
                          char *err, size_t errlen) __attribute__((warn_unused_result));
/* Frees the strings herald_settings_store put in 'out'. */
void herald_settings_free(const herald_settings_spec *spec, void *out);
/* --help text. */
void herald_settings_usage(const herald_settings_spec *spec, FILE *f);
/* All of the above in the precedence order: defaults < --config FILE < environment <
 * flags. On anything but OK the message is already printed (prefixed with the program
 * name); 'c' (may be NULL) receives the merged values. */
enum herald_settings_rc herald_settings_read(const herald_settings_spec *spec, int argc,
                                             char **argv, const char *const *ignore_env, void *out,
                                             herald_config *c);

#endif
