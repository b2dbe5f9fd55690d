/*
 * sw_thresholds: the live detector thresholds. After the first start they
 * live in Redis, not in the config file: operators change them with
 * `surgewatch ctl` while the workers run, and every worker applies each
 * change without a restart (sw_engine_set_profiles keeps the windows).
 *
 * What is stored: the profile settings of the config file ([detectors]
 * run/levels/DETECTOR.PARAM, [alerts] levels, [section XX-YY] the same),
 * one hash field per setting: "SCOPE KEY" -> value, SCOPE being "default"
 * (the [detectors] profile every section inherits) or a section id. The
 * engine settings ([windows], [alerts] raise_after...) stay in the file:
 * they fix the windows' shape and cannot change under a running worker.
 *
 * Keys, under a prefix: PREFIX:thresholds (the hash),
 * PREFIX:thresholds:version (bumped by every change), PREFIX:audit (a
 * stream of every operator change: docs/operations.md), PREFIX:sections
 * (the sections the workers have seen). A change is one Lua script: the
 * hash, the version, an audit entry per changed setting, then a PUBLISH of
 * the new version on the channel PREFIX:thresholds.
 *
 * Library code: returns errors, prints nothing.
 */
#ifndef SW_THRESHOLDS_H
#define SW_THRESHOLDS_H

#include "sw_config.h"
#include "sw_settings.h"

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#define SW_TH_SCOPE_DEFAULT "default"
#define SW_TH_SCOPE_MAX 32
#define SW_TH_KEY_MAX 48
#define SW_TH_VALUE_MAX 128

typedef struct sw_threshold {
    char scope[SW_TH_SCOPE_MAX]; /* "default" or a section id */
    char key[SW_TH_KEY_MAX];     /* run, levels, DETECTOR.PARAM */
    char value[SW_TH_VALUE_MAX];
} sw_threshold_t;

/* A set of settings, sorted by scope ("default" first) then key. */
typedef struct sw_threshold_set {
    sw_threshold_t *v;
    size_t n, cap;
    uint64_t version; /* 0: none stored yet */
} sw_threshold_set_t;

/* The names of the keys, for a prefix (at most 64 characters). */
typedef struct sw_th_keys {
    char hash[96], version[112], audit[96], sections[104], channel[96];
} sw_th_keys_t;
void sw_th_keys_init(sw_th_keys_t *k, const char *prefix);

void sw_threshold_set_deinit(sw_threshold_set_t *s);

/* The entry for scope/key, or NULL. */
const sw_threshold_t *sw_threshold_set_find(const sw_threshold_set_t *s,
                                            const char *scope, const char *key);

/* Sets scope/key to value (value NULL: removes it). Checks only the sizes
 * and that scope is "default" or a section id; sw_thresholds_build checks
 * the rest. Returns 0, SW_ERR_INVAL with errstr set, or SW_ERR_NOMEM. */
int sw_threshold_set_put(sw_threshold_set_t *s, const char *scope,
                         const char *key, const char *value, char *errstr,
                         size_t errstr_size);

/* The profile settings of a config file: [detectors] and [alerts] levels
 * as scope "default", [section X] as scope X. Other sections are skipped
 * (*skipped counts their entries when not NULL). Returns 0, or -1 with
 * errstr set ("FILE:LINE: ..."). */
int sw_thresholds_from_config(const sw_config_t *cfg, sw_threshold_set_t *out,
                              size_t *skipped, char *errstr,
                              size_t errstr_size);

/* Settings = base's engine settings and strictness, profiles from the
 * built-in defaults overlaid with set. Every value is checked as a config
 * file's would be; errstr then reads "[section HU-RS] threshold.limit:
 * ...". out is initialised here (sw_settings_deinit it, also on error).
 * Returns 0 or -1. */
int sw_thresholds_build(const sw_settings_t *base,
                        const sw_threshold_set_t *set, sw_settings_t *out,
                        char *errstr, size_t errstr_size);

/* Reads the hash and its version in one transaction. Unknown fields
 * (not "SCOPE KEY") are skipped and counted in *bad when not NULL.
 * Returns 0, or SW_ERR_REDIS with errstr set. */
int sw_thresholds_read(redisContext *c, const sw_th_keys_t *k,
                       sw_threshold_set_t *out, size_t *bad, char *errstr,
                       size_t errstr_size);

/* The stored version (0: never seeded). Returns 0 or SW_ERR_REDIS. */
int sw_thresholds_version(redisContext *c, const sw_th_keys_t *k,
                          uint64_t *version, char *errstr, size_t errstr_size);

/* Stores set as version 1 when nothing is stored yet (the first start);
 * otherwise changes nothing. The seed is audited as action "seed" by
 * `operator` with `source` (the config file). *seeded is 1 when this call
 * stored it. Returns 0 or SW_ERR_REDIS. */
int sw_thresholds_seed(redisContext *c, const sw_th_keys_t *k,
                       const sw_threshold_set_t *set, const char *op,
                       const char *source, int *seeded, char *errstr,
                       size_t errstr_size);

/* Makes the stored set equal to `to`, if the stored version is still
 * `expect` (else SW_ERR_CONFLICT: somebody changed it in between; read
 * again). Each setting that changes gets an audit entry (action, operator,
 * scope, key, old, new, version, note); when any did, the version is
 * bumped once and published. *version gets the version after the call,
 * *changed the number of settings changed. Returns 0, SW_ERR_CONFLICT or
 * SW_ERR_REDIS. */
int sw_thresholds_commit(redisContext *c, const sw_th_keys_t *k,
                         uint64_t expect, const sw_threshold_set_t *to,
                         const char *action, const char *op, const char *note,
                         uint64_t *version, size_t *changed, char *errstr,
                         size_t errstr_size);

/* The sections the workers have seen (SMEMBERS PREFIX:sections), sorted,
 * as a NULL-terminated malloc'd array of malloc'd strings (free with
 * sw_strv_free). Returns 0 or SW_ERR_REDIS / SW_ERR_NOMEM. */
int sw_thresholds_sections(redisContext *c, const sw_th_keys_t *k, char ***out,
                           char *errstr, size_t errstr_size);
void sw_strv_free(char **v);

/* 1 when section matches pattern: '*' stands for any run of characters
 * (none included), everything else for itself. */
int sw_section_match(const char *pattern, const char *section);

#endif
