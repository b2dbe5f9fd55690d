/*
 * sw_demo_scenario: the Western Balkans 2018-2020 scenario of
 * tests/scenario/make_scenario.py, in C, for `surgewatch demo`.
 *
 * Seven border sections, each with a piecewise-linear expected daily count
 * of persons (steps for the surges, the March 2020 collapse), a Poisson
 * daily total drawn with a seeded PRNG (xoshiro256**), split into records
 * with the group sizes, event types, reporters, nationalities, BCPs and
 * positions of the Python generator. The same seed gives the same events;
 * they are not the Python generator's (a different PRNG), only drawn the
 * same way.
 *
 * The generator yields one day at a time, from the scenario's first day,
 * every day's events sorted by event time. Nothing here prints or exits.
 */
#ifndef SW_DEMO_SCENARIO_H
#define SW_DEMO_SCENARIO_H

#include "sw_event.h"

#include <stddef.h>
#include <stdint.h>

#define SW_DEMO_NSECTIONS 7
#define SW_DEMO_DEFAULT_SEED UINT64_C(3)

/* The sections, in the generator's order. */
extern const char *const sw_demo_sections[SW_DEMO_NSECTIONS];

/* Days are counted from 1970-01-01 (UTC). */
int32_t sw_demo_day(int year, int month, int day);
/* Writes the day as "YYYY-MM-DD" into buf (at least 11 bytes). */
char *sw_demo_day_str(int32_t day, char *buf);
/* Parses "YYYY-MM-DD" (a real date). Returns 0 with *day set, or -1. */
int sw_demo_day_parse(const char *text, int32_t *day);

/* The scenario's period: 2018-10-01 .. 2020-05-31. */
int32_t sw_demo_first_day(void);
int32_t sw_demo_last_day(void);

/* The expected persons of section i on a day (facilitators not included):
 * the knots' line, times the collapse factor from 2020-03-14. */
double sw_demo_expected(int section, int32_t day);

/* The index of a section name, or -1. */
int sw_demo_section_index(const char *section);

typedef struct sw_demo_surge {
    int section; /* index into sw_demo_sections */
    int32_t start;
    const char *shape;
} sw_demo_surge_t;

/* The surges, with the start date the shapes make exact. Returns how
 * many; *out points to a static table. */
size_t sw_demo_surges(const sw_demo_surge_t **out);

/* The quiet periods (no alert may be raised), for the truth. */
typedef struct sw_demo_quiet {
    const char *sections; /* "*" or space-separated section ids */
    int32_t from, to;     /* inclusive */
    const char *why;
} sw_demo_quiet_t;
size_t sw_demo_quiet(const sw_demo_quiet_t **out);

typedef struct sw_demo_gen sw_demo_gen_t;

/* A generator positioned before the scenario's first day. NULL when out
 * of memory. */
sw_demo_gen_t *sw_demo_gen_new(uint64_t seed);
void sw_demo_gen_destroy(sw_demo_gen_t **self_p);

/* Generates the next day's events. Returns 1 with *day, *events (sorted by
 * event time, valid until the next call) and *n set, and persons[i] the
 * persons of section i that day (facilitators included: what a worker
 * counts); 0 after the scenario's last day; -1 when out of memory or an
 * event failed the contract's validation (a bug: err says why). */
int sw_demo_gen_next(sw_demo_gen_t *self, int32_t *day,
                     const sw_event_t **events, size_t *n,
                     uint32_t persons[SW_DEMO_NSECTIONS], sw_event_err_t *err);

#endif
