/*
 * sw_settings: the detection settings of a config file: windows, alert
 * state machine, and the detector profile of every section (defaults in
 * [detectors], overrides in [section XX-YY]). docs/configuration.md and
 * config/surgewatch.example.ini describe every key.
 */
#ifndef SW_SETTINGS_H
#define SW_SETTINGS_H

#include "sw_config.h"
#include "sw_engine.h"

#include <stddef.h>
#include <stdint.h>

typedef struct sw_settings {
    sw_engine_conf_t engine;
    sw_profiles_t profiles; /* profiles.v is owned (malloc'd) */
} sw_settings_t;

/* Fills s with the built-in defaults (no config file). */
void sw_settings_default(sw_settings_t *s);

/* Reads the detection settings from a parsed config file, over the
 * defaults. Sections it does not own ([kafka], ...) are skipped; within
 * its own sections every key is checked. Returns 0, or -1 with errstr set
 * to "FILE:LINE: [section] key: what is wrong (accepted: ...)". */
int sw_settings_load(const sw_config_t *cfg, sw_settings_t *s, char *errstr,
                     size_t errstr_size);

/* Frees what sw_settings_load allocated. */
void sw_settings_deinit(sw_settings_t *s);

/* Parses a duration: an integer with a unit, ms, s, m, h or d ("90s",
 * "24h", "1d"). Returns 0 with *ms set, or -1. */
int sw_parse_duration(const char *text, int64_t *ms);

#endif
