/*
 * sw_config: the configuration file (INI, read with libinih) and ordered
 * key/value property lists (librdkafka properties, settings from the
 * environment and flags).
 *
 * A config file is kept as its entries with their line numbers, so that a
 * consumer that finds a bad value can name the file, line and key. Typed
 * settings are read by the modules that own them.
 */
#ifndef SW_CONFIG_H
#define SW_CONFIG_H

#include <stddef.h>

typedef struct sw_prop {
    char *key;
    char *value;
    char *origin; /* "file.ini:12", "environment", "command line" */
} sw_prop_t;

/* An ordered list of properties; a later set of the same key replaces the
 * value in place. Zero-initialise, then sw_props_set(); free with
 * sw_props_deinit(). */
typedef struct sw_props {
    sw_prop_t *v;
    size_t n, cap;
} sw_props_t;

/* Sets key to value (both copied). origin may be NULL. Returns 0 or
 * SW_ERR_NOMEM. */
int sw_props_set(sw_props_t *self, const char *key, const char *value,
                 const char *origin);

/* Parses "key=value" (as from -X) and sets it. Returns 0, SW_ERR_INVAL when
 * there is no '=' or the key is empty, or SW_ERR_NOMEM. */
int sw_props_set_kv(sw_props_t *self, const char *kv, const char *origin);

/* Returns the entry for key, or NULL. Borrowed. */
const sw_prop_t *sw_props_find(const sw_props_t *self, const char *key);

/* Removes key if present. */
void sw_props_remove(sw_props_t *self, const char *key);

/* Frees every entry; the list is empty and reusable afterwards. */
void sw_props_deinit(sw_props_t *self);

typedef struct sw_config_entry {
    char *section; /* "" for keys before the first [section] */
    char *key;
    char *value;
    int line;
} sw_config_entry_t;

typedef struct sw_config {
    char *path;
    sw_config_entry_t *e;
    size_t n, cap;
} sw_config_t;

/* Reads an INI file: "[section]" headers, "key = value" lines, ';' or '#'
 * comments. Returns the config, or NULL with errstr set to
 * "PATH:LINE: what is wrong" (unreadable file, syntax error, out of memory).
 * Free with sw_config_destroy(). */
sw_config_t *sw_config_load(const char *path, char *errstr, size_t errstr_size);

/* An empty config (entries built in memory: thresholds read from Redis)
 * whose errors name `path`. NULL when out of memory. */
sw_config_t *sw_config_new(const char *path);

/* Appends an entry (strings copied). Returns 0 or SW_ERR_NOMEM. */
int sw_config_add(sw_config_t *self, const char *section, const char *key,
                  const char *value, int line);

/* Frees a config (NULL is fine) and sets *self_p to NULL. */
void sw_config_destroy(sw_config_t **self_p);

/* Returns the last entry for section/key, or NULL. Borrowed. */
const sw_config_entry_t *sw_config_find(const sw_config_t *self,
                                        const char *section, const char *key);

#endif
