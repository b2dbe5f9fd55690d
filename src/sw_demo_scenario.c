/* sw_demo_scenario: the Western Balkans scenario for `surgewatch demo`; a
 * port of tests/scenario/make_scenario.py (see there for the sources of
 * every figure). */
#include "sw_demo_scenario.h"

#include "sw_time.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const sw_demo_sections[SW_DEMO_NSECTIONS] = {
    "GR-MK", "HU-RS", "HR-RS", "HR-SI", "BA-HR", "BA-RS", "AL-GR",
};

/* ------------------------------------------------------------- dates */

/* Days from 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil). */
int32_t sw_demo_day(int y, int m, int d)
{
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int32_t)(era * 146097 + doe - 719468);
}

static void civil(int32_t z, int *y, int *m, int *d)
{
    z += 719468;
    int32_t era = (z >= 0 ? z : z - 146096) / 146097;
    int32_t doe = z - era * 146097;
    int32_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int32_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int32_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

char *sw_demo_day_str(int32_t day, char *buf)
{
    int y, m, d;
    civil(day, &y, &m, &d);
    char tmp[48];
    snprintf(tmp, sizeof(tmp), "%04d-%02d-%02d", y % 10000, m, d);
    memcpy(buf, tmp, 10);
    buf[10] = '\0';
    return buf;
}

int sw_demo_day_parse(const char *text, int32_t *day)
{
    int y, m, d, n = 0;
    if (strlen(text) != 10 ||
        sscanf(text, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10 ||
        text[4] != '-' || text[7] != '-' || y < 1971 || m < 1 || m > 12 ||
        d < 1 || d > 31)
        return -1;
    int32_t z = sw_demo_day(y, m, d);
    int y2, m2, d2;
    civil(z, &y2, &m2, &d2);
    if (y2 != y || m2 != m || d2 != d)
        return -1; /* 2019-02-30 */
    *day = z;
    return 0;
}

#define D(y, m, d)                                                             \
    {                                                                          \
        y, m, d                                                                \
    }

typedef struct ymd {
    int y, m, d;
} ymd_t;

static int32_t dayof(ymd_t a)
{
    return sw_demo_day(a.y, a.m, a.d);
}

int32_t sw_demo_first_day(void)
{
    return sw_demo_day(2018, 10, 1);
}

int32_t sw_demo_last_day(void)
{
    return sw_demo_day(2020, 5, 31);
}

/* ----------------------------------------------------------- volumes */

typedef struct knot {
    ymd_t date;
    double v;
} knot_t;

#define MAX_KNOTS 14

static const struct {
    int n;
    knot_t k[MAX_KNOTS];
} knots[SW_DEMO_NSECTIONS] = {
    /* GR-MK */
    {12,
     {{D(2018, 10, 1), 55},
      {D(2018, 11, 30), 32},
      {D(2019, 3, 3), 32},
      {D(2019, 3, 4), 72},
      {D(2019, 7, 31), 72},
      {D(2019, 12, 1), 60},
      {D(2020, 2, 19), 60},
      {D(2020, 2, 20), 170},
      {D(2020, 2, 21), 290},
      {D(2020, 3, 1), 290},
      {D(2020, 3, 2), 95},
      {D(2020, 3, 13), 95}}},
    /* HU-RS */
    {9,
     {{D(2018, 10, 1), 9},
      {D(2018, 11, 30), 5},
      {D(2019, 3, 3), 5},
      {D(2019, 3, 4), 32},
      {D(2019, 3, 31), 32},
      {D(2019, 4, 1), 6.5},
      {D(2019, 9, 30), 6.5},
      {D(2019, 12, 1), 6},
      {D(2020, 3, 13), 6}}},
    /* HR-RS */
    {7,
     {{D(2018, 10, 1), 3},
      {D(2018, 11, 30), 1.5},
      {D(2019, 3, 3), 1.5},
      {D(2019, 3, 4), 22},
      {D(2019, 3, 31), 22},
      {D(2019, 4, 1), 1.5},
      {D(2020, 3, 13), 1.5}}},
    /* HR-SI */
    {13,
     {{D(2018, 10, 1), 18},
      {D(2018, 11, 30), 10},
      {D(2019, 3, 10), 10},
      {D(2019, 3, 11), 46},
      {D(2019, 3, 31), 46},
      {D(2019, 4, 1), 47},
      {D(2019, 4, 30), 47},
      {D(2019, 5, 1), 45},
      {D(2019, 5, 31), 45},
      {D(2019, 6, 1), 40},
      {D(2019, 6, 30), 40},
      {D(2019, 11, 30), 12},
      {D(2020, 3, 13), 12}}},
    /* BA-HR */
    {11,
     {{D(2018, 10, 1), 20},
      {D(2018, 11, 30), 12},
      {D(2019, 3, 17), 12},
      {D(2019, 3, 18), 30},
      {D(2019, 4, 30), 30},
      {D(2019, 5, 1), 32.3},
      {D(2019, 5, 31), 32.3},
      {D(2019, 6, 1), 30},
      {D(2019, 6, 30), 30},
      {D(2019, 11, 30), 14},
      {D(2020, 3, 13), 14}}},
    /* BA-RS */
    {11,
     {{D(2018, 10, 1), 12},
      {D(2018, 11, 30), 8},
      {D(2019, 3, 31), 8},
      {D(2019, 4, 1), 25},
      {D(2019, 4, 30), 25},
      {D(2019, 5, 1), 31},
      {D(2019, 5, 31), 31},
      {D(2019, 6, 1), 22},
      {D(2019, 6, 30), 22},
      {D(2019, 11, 30), 10},
      {D(2020, 3, 13), 10}}},
    /* AL-GR */
    {7,
     {{D(2018, 10, 1), 19},
      {D(2018, 11, 30), 21},
      {D(2019, 2, 28), 22},
      {D(2019, 5, 31), 40},
      {D(2019, 8, 31), 40},
      {D(2019, 12, 31), 30},
      {D(2020, 3, 13), 30}}},
};

/* The closures: the share of the pre-closure level left on each of the
 * first days, then COLLAPSE_FLOOR to the end (a drop of 93 %). */
static const struct {
    ymd_t date;
    double f;
} collapse[] = {
    {D(2020, 3, 14), 0.6},
    {D(2020, 3, 15), 0.3},
    {D(2020, 3, 16), 0.12},
};
#define COLLAPSE_FLOOR 0.07

static int32_t collapse_first(void)
{
    return sw_demo_day(2020, 3, 14);
}

double sw_demo_expected(int s, int32_t day)
{
    if (s < 0 || s >= SW_DEMO_NSECTIONS)
        return 0;
    const knot_t *k = knots[s].k;
    int n = knots[s].n;
    double v;
    if (day <= dayof(k[0].date)) {
        v = k[0].v;
    } else if (day >= dayof(k[n - 1].date)) {
        v = k[n - 1].v;
    } else {
        v = k[n - 1].v;
        for (int i = 0; i + 1 < n; i++) {
            int32_t d0 = dayof(k[i].date), d1 = dayof(k[i + 1].date);
            if (d0 <= day && day <= d1) {
                v = k[i].v + (k[i + 1].v - k[i].v) * (double)(day - d0) /
                                 (double)(d1 - d0);
                break;
            }
        }
    }
    if (day >= collapse_first()) {
        double f = COLLAPSE_FLOOR;
        for (size_t i = 0; i < sizeof(collapse) / sizeof(collapse[0]); i++)
            if (day == dayof(collapse[i].date))
                f = collapse[i].f;
        v *= f;
    }
    return v;
}

int sw_demo_section_index(const char *section)
{
    for (int i = 0; i < SW_DEMO_NSECTIONS; i++)
        if (strcmp(sw_demo_sections[i], section) == 0)
            return i;
    return -1;
}

static sw_demo_surge_t surges[7];
static const struct {
    int section;
    ymd_t start;
    const char *shape;
} surge_def[7] = {
    {0, D(2019, 3, 4),
     "step 32 -> 72 persons/day: the March 2019 rise (above 2 100 a month "
     "March-July 2019)"},
    {1, D(2019, 3, 4), "step 5 -> 32/day: the March 2019 peak (930)"},
    {2, D(2019, 3, 4), "step 1.5 -> 22/day: 620 in March 2019"},
    {3, D(2019, 3, 11), "step 10 -> 46/day: over 1 000 in March 2019"},
    {4, D(2019, 3, 18),
     "step 12 -> 30/day: the rise to the May 2019 peak (over 4 100 in H1 "
     "2019)"},
    {5, D(2019, 4, 1),
     "step 8 -> 25/day: 600-1 000 deterred a month April-June 2019"},
    {0, D(2020, 2, 20),
     "two-day ramp 60 -> 170 -> 290/day: the February 2020 surge (7 410 in "
     "Q1 2020, +86 %)"},
};

size_t sw_demo_surges(const sw_demo_surge_t **out)
{
    for (size_t i = 0; i < 7; i++) {
        surges[i].section = surge_def[i].section;
        surges[i].start = dayof(surge_def[i].start);
        surges[i].shape = surge_def[i].shape;
    }
    *out = surges;
    return 7;
}

static sw_demo_quiet_t quiet[4];

size_t sw_demo_quiet(const sw_demo_quiet_t **out)
{
    quiet[0] = (sw_demo_quiet_t){"*", sw_demo_day(2018, 12, 1),
                                 sw_demo_day(2019, 2, 28),
                                 "winter baseline 2018-19, before the March "
                                 "2019 rise"};
    quiet[1] = (sw_demo_quiet_t){"*", sw_demo_day(2019, 12, 1),
                                 sw_demo_day(2020, 2, 19),
                                 "winter baseline 2019-20, before the "
                                 "February 2020 surge"};
    quiet[2] = (sw_demo_quiet_t){
        "AL-GR BA-HR BA-RS HR-RS HR-SI HU-RS", sw_demo_day(2020, 2, 20),
        sw_demo_day(2020, 3, 13), "the other sections while GR-MK surges"};
    quiet[3] = (sw_demo_quiet_t){"*", collapse_first(), sw_demo_last_day(),
                                 "the March 2020 collapse (a drop) and the "
                                 "weeks after it"};
    *out = quiet;
    return 4;
}

/* ----------------------------------------------------------- records */

typedef struct weighted {
    const char *v;
    int w;
} weighted_t;

#define WL(...) ((const weighted_t[]){__VA_ARGS__, {NULL, 0}})

/* Facilitators detected a year (the report), added on top of the flows. */
static const int facilitators[SW_DEMO_NSECTIONS] = {69, 143, 52, 40,
                                                    43, 30,  125};

static const weighted_t *const reporters[SW_DEMO_NSECTIONS] = {
    WL({"MK", 85}, {"GR", 15}), WL({"HU", 90}, {"RS", 10}),
    WL({"HR", 80}, {"RS", 20}), WL({"SI", 75}, {"HR", 25}),
    WL({"HR", 60}, {"BA", 40}), WL({"BA", 70}, {"RS", 30}),
    WL({"AL", 85}, {"GR", 15}),
};

static const weighted_t *const types[SW_DEMO_NSECTIONS] = {
    WL({"deterred", 55}, {"irregular_crossing", 35}, {"bcp_clandestine", 6},
       {"document_fraud", 2}, {"refusal", 2}),
    WL({"irregular_crossing", 55}, {"deterred", 22}, {"bcp_clandestine", 15},
       {"refusal", 5}, {"document_fraud", 3}),
    WL({"irregular_crossing", 60}, {"deterred", 22}, {"bcp_clandestine", 10},
       {"illegal_stay", 8}),
    WL({"irregular_crossing", 70}, {"illegal_stay", 15},
       {"bcp_clandestine", 10}, {"document_fraud", 5}),
    WL({"deterred", 60}, {"irregular_crossing", 30}, {"illegal_stay", 10}),
    WL({"deterred", 70}, {"irregular_crossing", 25}, {"refusal", 5}),
    WL({"irregular_crossing", 60}, {"deterred", 20}, {"illegal_stay", 10},
       {"document_fraud", 6}, {"refusal", 4}),
};

static const weighted_t nationalities[] = {
    {"AFG", 24}, {"PAK", 22}, {"SYR", 12}, {"IRQ", 9}, {"IRN", 7},
    {"MAR", 6},  {"DZA", 6},  {"BGD", 5},  {"TUR", 3}, {"LBY", 2},
    {"PSE", 2},  {"AL", 2},   {NULL, 0},
};

static const char *const bcps[SW_DEMO_NSECTIONS][4] = {
    {"Gevgelija", "Bogorodica", "Dojran", NULL},
    {"Roszke", "Tompa", "Kelebia", "Horgos"},
    {"Bajakovo", "Tovarnik", "Ilok", NULL},
    {"Bregana", "Obrezje", "Macelj", NULL},
    {"Izacic", "Maljevac", "Gradiska", NULL},
    {"Karakaj", "Raca", "Vardiste", NULL},
    {"Kakavija", "Kapshtice", "Tre Urat", NULL},
};

/* Rough centre of each section (lat, lon). */
static const double places[SW_DEMO_NSECTIONS][2] = {
    {41.14, 22.50}, {46.15, 19.90}, {45.10, 19.20}, {45.85, 15.60},
    {45.05, 15.90}, {44.40, 19.20}, {40.10, 20.35},
};

/* The reporting countries, for the per-country id sequence. */
static const char *const countries[] = {"AL", "BA", "GR", "HR",
                                        "HU", "MK", "RS", "SI"};
#define NCOUNTRIES (sizeof(countries) / sizeof(countries[0]))

/* -------------------------------------------------------------- PRNG */

typedef struct rng {
    uint64_t s[4];
} rng_t;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static void rng_seed(rng_t *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256** */
static uint64_t rng_next(rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* [0, 1) */
static double rng_random(rng_t *r)
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

/* [0, n) */
static uint32_t rng_below(rng_t *r, uint32_t n)
{
    return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* [a, b] */
static int rng_int(rng_t *r, int a, int b)
{
    return a + (int)rng_below(r, (uint32_t)(b - a + 1));
}

static const char *pick(rng_t *r, const weighted_t *w)
{
    int total = 0;
    size_t n = 0;
    for (; w[n].v; n++)
        total += w[n].w;
    double x = rng_random(r) * total;
    for (size_t i = 0; i < n; i++) {
        x -= w[i].w;
        if (x < 0)
            return w[i].v;
    }
    return w[n - 1].v;
}

/* Exact Poisson draw: sums of Knuth's method on chunks of <= 30. */
static uint32_t poisson(rng_t *r, double lam)
{
    uint32_t n = 0;
    while (lam > 0) {
        double part = lam < 30.0 ? lam : 30.0;
        lam -= part;
        double limit = exp(-part), p = rng_random(r);
        while (p > limit) {
            n++;
            p *= rng_random(r);
        }
    }
    return n;
}

/* 1, 2, 3 ... with P(k) = p (1-p)^(k-1). */
static int geometric(rng_t *r, double p)
{
    return 1 + (int)(log(1.0 - rng_random(r)) / log(1.0 - p));
}

/* Persons in one record: small groups mostly, now and then a truck. */
static int group_size(rng_t *r, const char *typ)
{
    if (strcmp(typ, "bcp_clandestine") == 0) {
        if (rng_random(r) < 0.04)
            return rng_int(r, 20, 80); /* "groups of 79 ... in one truck" */
        return geometric(r, 0.22);
    }
    if (strcmp(typ, "deterred") == 0) {
        int g = geometric(r, 0.12);
        return g < 60 ? g : 60;
    }
    if (strcmp(typ, "irregular_crossing") == 0) {
        if (rng_random(r) < 0.02)
            return rng_int(r, 15, 45);
        return geometric(r, 0.3);
    }
    if (strcmp(typ, "illegal_stay") == 0)
        return geometric(r, 0.45);
    return rng_random(r) < 0.8 ? 1 : 2; /* refusal, document_fraud */
}

/* --------------------------------------------------------- generator */

typedef struct slot {
    sw_event_t ev;
    size_t order; /* generation order: a stable sort */
} slot_t;

struct sw_demo_gen {
    rng_t rng;
    int32_t next_day, last_day;
    uint32_t seq[NCOUNTRIES];
    slot_t *slots;
    size_t n, cap;
    sw_event_t *out;
    size_t out_cap;
    struct group {
        const char *typ;
        uint32_t n;
    } * groups;
    size_t ngroups, groups_cap;
};

sw_demo_gen_t *sw_demo_gen_new(uint64_t seed)
{
    sw_demo_gen_t *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return NULL;
    rng_seed(&g->rng, seed);
    g->next_day = sw_demo_first_day();
    g->last_day = sw_demo_last_day();
    return g;
}

void sw_demo_gen_destroy(sw_demo_gen_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    free((*self_p)->slots);
    free((*self_p)->out);
    free((*self_p)->groups);
    free(*self_p);
    *self_p = NULL;
}

static int cmp_slot(const void *a, const void *b)
{
    const slot_t *x = a, *y = b;
    if (x->ev.ts_ms != y->ev.ts_ms)
        return x->ev.ts_ms < y->ev.ts_ms ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static slot_t *new_slot(sw_demo_gen_t *g)
{
    if (g->n == g->cap) {
        size_t nc = g->cap ? g->cap * 2 : 256;
        slot_t *ns = realloc(g->slots, nc * sizeof(*ns));
        if (ns == NULL)
            return NULL;
        g->slots = ns;
        g->cap = nc;
    }
    slot_t *s = &g->slots[g->n];
    s->order = g->n++;
    return s;
}

static int add_group(sw_demo_gen_t *g, const char *typ, uint32_t n,
                     sw_event_err_t *err)
{
    if (g->ngroups == g->groups_cap) {
        size_t nc = g->groups_cap ? g->groups_cap * 2 : 128;
        struct group *ng = realloc(g->groups, nc * sizeof(*ng));
        if (ng == NULL) {
            sw_event_fail(err, SW_REASON_NONE, -1, "out of memory");
            return -1;
        }
        g->groups = ng;
        g->groups_cap = nc;
    }
    g->groups[g->ngroups].typ = typ;
    g->groups[g->ngroups++].n = n;
    return 0;
}

static uint32_t next_seq(sw_demo_gen_t *g, const char *src)
{
    for (size_t i = 0; i < NCOUNTRIES; i++)
        if (strcmp(countries[i], src) == 0)
            return ++g->seq[i];
    return 0;
}

static double round5(double v)
{
    return round(v * 1e5) / 1e5;
}

/* One record of section s: typ, n persons, at a random second of day0. */
static int record(sw_demo_gen_t *g, int s, int64_t day0_ms, int year,
                  const char *typ, int n, int64_t now_ms, sw_event_err_t *err)
{
    rng_t *r = &g->rng;
    slot_t *slot = new_slot(g);
    if (slot == NULL) {
        sw_event_fail(err, SW_REASON_NONE, -1, "out of memory");
        return -1;
    }
    sw_event_t *ev = &slot->ev;
    sw_event_reset(ev);
    const char *src = pick(r, reporters[s]);
    char id[SW_EVENT_ID_MAX + 1];
    int idn =
        snprintf(id, sizeof(id), "%s-%d-%06u", src, year, next_seq(g, src));
    int64_t ts = day0_ms + (int64_t)rng_below(r, 86400) * 1000;
    const char *sec = sw_demo_sections[s];
    if (sw_event_set_str(ev, SW_F_ID, id, (size_t)idn, 0, err) ||
        sw_event_set_str(ev, SW_F_SRC, src, strlen(src), 0, err) ||
        sw_event_set_str(ev, SW_F_SECTION, sec, strlen(sec), 0, err) ||
        sw_event_set_int(ev, SW_F_TS, ts, err) ||
        sw_event_set_str(ev, SW_F_TYPE, typ, strlen(typ), 0, err) ||
        sw_event_set_int(ev, SW_F_COUNT, n, err))
        return -1;
    int fac = strcmp(typ, "facilitator") == 0;
    const char *nat = NULL;
    if (!fac && rng_random(r) < 0.85)
        nat = pick(r, nationalities);
    else if (fac && rng_random(r) < 0.7) {
        const weighted_t fn[] = {
            {src, 3}, {"AFG", 1}, {"PAK", 1}, {"SYR", 1}, {NULL, 0}};
        nat = pick(r, fn);
    }
    if (nat && sw_event_set_str(ev, SW_F_NAT, nat, strlen(nat), 0, err))
        return -1;
    if (strcmp(typ, "bcp_clandestine") == 0 || strcmp(typ, "refusal") == 0 ||
        strcmp(typ, "document_fraud") == 0) {
        int nb = 0;
        while (nb < 4 && bcps[s][nb])
            nb++;
        const char *b = bcps[s][rng_below(r, (uint32_t)nb)];
        if (sw_event_set_str(ev, SW_F_BCP, b, strlen(b), 0, err))
            return -1;
    } else if (rng_random(r) < 0.5) {
        double lat = round5(places[s][0] + (rng_random(r) * 0.5 - 0.25));
        double lon = round5(places[s][1] + (rng_random(r) * 0.5 - 0.25));
        if (sw_event_set_double(ev, SW_F_LAT, lat, err) ||
            sw_event_set_double(ev, SW_F_LON, lon, err))
            return -1;
    }
    if (rng_random(r) < 0.6) {
        static const double conf[] = {0.7, 0.8, 0.9, 1.0};
        if (sw_event_set_double(ev, SW_F_CONFIDENCE, conf[rng_below(r, 4)],
                                err))
            return -1;
    }
    return sw_event_finish(ev, now_ms, err);
}

int sw_demo_gen_next(sw_demo_gen_t *g, int32_t *day, const sw_event_t **events,
                     size_t *n, uint32_t persons[SW_DEMO_NSECTIONS],
                     sw_event_err_t *err)
{
    if (g->next_day > g->last_day)
        return 0;
    int32_t d = g->next_day++;
    int y, m, dd;
    civil(d, &y, &m, &dd);
    int64_t day0 = (int64_t)d * SW_MS_PER_DAY;
    int64_t now = sw_clock_now_ms();
    rng_t *r = &g->rng;
    g->n = 0;
    for (int s = 0; s < SW_DEMO_NSECTIONS; s++) {
        uint32_t left = poisson(r, sw_demo_expected(s, d));
        double fac_rate = facilitators[s] / 365.0;
        if (d >= collapse_first())
            fac_rate *= COLLAPSE_FLOOR;
        /* as the Python generator: the groups first, then the records */
        g->ngroups = 0;
        while (left > 0) {
            const char *typ = pick(r, types[s]);
            int k = group_size(r, typ);
            uint32_t c = (uint32_t)k < left ? (uint32_t)k : left;
            left -= c;
            if (add_group(g, typ, c, err))
                return -1;
        }
        uint32_t nf = poisson(r, fac_rate);
        for (uint32_t i = 0; i < nf; i++)
            if (add_group(g, "facilitator", rng_random(r) < 0.85 ? 1 : 2, err))
                return -1;
        uint32_t total = 0;
        for (size_t i = 0; i < g->ngroups; i++) {
            total += g->groups[i].n;
            if (record(g, s, day0, y, g->groups[i].typ, (int)g->groups[i].n,
                       now, err))
                return -1;
        }
        persons[s] = total;
    }
    qsort(g->slots, g->n, sizeof(*g->slots), cmp_slot);
    if (g->n > g->out_cap) {
        sw_event_t *no = realloc(g->out, g->n * sizeof(*no));
        if (no == NULL) {
            sw_event_fail(err, SW_REASON_NONE, -1, "out of memory");
            return -1;
        }
        g->out = no;
        g->out_cap = g->n;
    }
    for (size_t i = 0; i < g->n; i++)
        g->out[i] = g->slots[i].ev;
    *day = d;
    *events = g->out;
    *n = g->n;
    return 1;
}
