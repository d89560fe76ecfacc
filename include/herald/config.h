/*
 * config -- settings from defaults, a file, the environment and flags, in that order of
 * precedence (flags win).
 *
 * File: "key = value" lines, '#' comments, blank lines ignored; keys are Kinto's setting
 * names without the "kinto." prefix (which is accepted and stripped). Environment:
 * HERALD_<NAME> with the name upper-cased and dots replaced by underscores.
 * A program builds one table at start, validates it, and only reads it afterwards.
 */
#ifndef HERALD_CONFIG_H
#define HERALD_CONFIG_H

#include <stddef.h>
#include <stdint.h>

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

#endif
