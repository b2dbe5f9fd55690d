/*
 * Fuzz target: the files an operator writes. The first byte selects the
 * parser (its value modulo 4): 1 the hub's authorised-keys file
 * (sw_acl_load), 2 the web view's viewers file (sw_viewers_load), 0 and 3
 * the config file and everything built on it (sw_config_load,
 * sw_settings_load, sw_thresholds_from_config, sw_thresholds_build). The
 * rest of the input is the file, written to a memfd (fuzz_file.h).
 *
 * Oracles: a failure always says why; what a loader accepts obeys its
 * header; and a config file whose settings load and whose thresholds can
 * be stored must build back, from those thresholds, into the very same
 * profiles (what a worker seeds into Redis on its first start is what it
 * then runs with). No leaks: libFuzzer runs LeakSanitizer.
 */
#include "fuzz_file.h"
#include "sw_acl.h"
#include "sw_config.h"
#include "sw_engine.h"
#include "sw_event.h"
#include "sw_settings.h"
#include "sw_thresholds.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond))                                                           \
            __builtin_trap();                                                  \
    } while (0)

static int same_double(double a, double b)
{
    return memcmp(&a, &b, sizeof(a)) == 0;
}

static int same_params(const sw_detector_params_t *a,
                       const sw_detector_params_t *b)
{
    return a->kind == b->kind && a->window == b->window &&
           same_double(a->limit, b->limit) && a->k == b->k &&
           same_double(a->ratio, b->ratio) &&
           same_double(a->min_count, b->min_count) &&
           a->baseline == b->baseline && same_double(a->alpha, b->alpha) &&
           same_double(a->min_sigma, b->min_sigma) &&
           same_double(a->cusum_k, b->cusum_k) &&
           same_double(a->cusum_h, b->cusum_h) && a->history == b->history &&
           a->guard == b->guard &&
           a->reset_after_alarm == b->reset_after_alarm &&
           same_double(a->min_mean, b->min_mean) &&
           same_double(a->lambda, b->lambda);
}

static int same_profile(const sw_profile_t *a, const sw_profile_t *b)
{
    if (memcmp(a->enabled, b->enabled, sizeof(a->enabled)) != 0)
        return 0;
    for (int k = 0; k < SW_DET__COUNT; k++)
        if (!same_params(&a->params[k], &b->params[k]))
            return 0;
    for (int i = 0; i < 3; i++)
        if (!same_double(a->levels[i], b->levels[i]))
            return 0;
    return 1;
}

static const sw_profile_t *override_of(const sw_profiles_t *ps,
                                       const char *section)
{
    for (size_t i = 0; i < ps->n; i++)
        if (strcmp(ps->v[i].section, section) == 0)
            return &ps->v[i].profile;
    return NULL;
}

/* The profiles of a and b are the same: the default, and the same
 * sections with the same overrides (in any order). */
static int same_profiles(const sw_profiles_t *a, const sw_profiles_t *b)
{
    if (!same_profile(&a->def, &b->def) || a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++) {
        const sw_profile_t *o = override_of(b, a->v[i].section);
        if (o == NULL || !same_profile(&a->v[i].profile, o))
            return 0;
    }
    return 1;
}

/* The rules of sw_thresholds.h hold for a set. */
static void check_set(const sw_threshold_set_t *set)
{
    for (size_t i = 0; i < set->n; i++) {
        const sw_threshold_t *t = &set->v[i];
        size_t sl = strlen(t->scope), kl = strlen(t->key);
        size_t vl = strlen(t->value);
        CHECK(sl < SW_TH_SCOPE_MAX && kl < SW_TH_KEY_MAX &&
              vl < SW_TH_VALUE_MAX);
        CHECK(strcmp(t->scope, SW_TH_SCOPE_DEFAULT) == 0 ||
              sw_section_valid(t->scope, sl));
        CHECK(kl > 0 && vl > 0 && strchr(t->key, ' ') == NULL);
        CHECK(sw_threshold_set_find(set, t->scope, t->key) == t);
        if (i > 0) {
            /* sorted: "default" first, then scopes, then keys */
            const sw_threshold_t *p = &set->v[i - 1];
            int pd = strcmp(p->scope, SW_TH_SCOPE_DEFAULT) == 0;
            int td = strcmp(t->scope, SW_TH_SCOPE_DEFAULT) == 0;
            int c = pd != td ? (pd ? -1 : 1) : strcmp(p->scope, t->scope);
            CHECK(c < 0 || (c == 0 && strcmp(p->key, t->key) < 0));
        }
    }
}

static void fuzz_config_file(const char *path)
{
    char err[1024] = "";
    sw_config_t *cfg = sw_config_load(path, err, sizeof(err));
    if (cfg == NULL) {
        CHECK(err[0] != '\0');
        return;
    }
    for (size_t i = 0; i < cfg->n; i++) {
        const sw_config_entry_t *e = &cfg->e[i];
        CHECK(e->section && e->key && e->value && e->line >= 1);
        CHECK(i == 0 || e->line >= cfg->e[i - 1].line);
        const sw_config_entry_t *f = sw_config_find(cfg, e->section, e->key);
        CHECK(f != NULL && f >= e);
    }

    sw_settings_t s;
    sw_settings_default(&s);
    err[0] = '\0';
    int rc_s = sw_settings_load(cfg, &s, err, sizeof(err));
    CHECK(rc_s == 0 || err[0] != '\0');

    sw_threshold_set_t set = {0};
    size_t skipped = 0;
    err[0] = '\0';
    int rc_t = sw_thresholds_from_config(cfg, &set, &skipped, err, sizeof(err));
    CHECK(rc_t == 0 || err[0] != '\0');
    if (rc_t == 0) {
        CHECK(set.n + skipped <= cfg->n);
        check_set(&set);
        sw_settings_t base, out;
        sw_settings_default(&base);
        err[0] = '\0';
        int rc_b = sw_thresholds_build(rc_s == 0 ? &s : &base, &set, &out, err,
                                       sizeof(err));
        CHECK(rc_b == 0 || err[0] != '\0');
        if (rc_s == 0) {
            /* the file's settings, stored and read back, are the same */
            CHECK(rc_b == 0);
            CHECK(same_profiles(&s.profiles, &out.profiles));
        }
        sw_settings_deinit(&out);
        sw_settings_deinit(&base);
        /* removing every setting empties the set */
        while (set.n > 0) {
            sw_threshold_t t = set.v[set.n - 1];
            size_t n = set.n;
            CHECK(sw_threshold_set_put(&set, t.scope, t.key, NULL, err,
                                       sizeof(err)) == 0);
            CHECK(set.n == n - 1);
        }
    }
    sw_threshold_set_deinit(&set);
    sw_settings_deinit(&s);
    sw_config_destroy(&cfg);
    CHECK(cfg == NULL);
}

static int name_ok(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= SW_ACL_NAME_MAX &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789._@-") == n;
}

/* The rules of sw_acl.h hold for an entry of either file. */
static void check_entry(const sw_acl_entry_t *e)
{
    CHECK(name_ok(e->name));
    CHECK(e->all ? e->nsections == 0 : e->nsections > 0);
    for (size_t i = 0; i < e->nsections; i++) {
        const char *s = e->sections[i];
        CHECK(sw_section_valid(s, strlen(s)));
        /* an entry sees its own sections and their subsections */
        char topic[SW_SECTION_MAX + 16];
        int n = snprintf(topic, sizeof(topic), "alert.%s.", s);
        CHECK(n > 0 && (size_t)n < sizeof(topic));
        CHECK(sw_acl_topic_visible(e, topic, (size_t)n));
    }
    CHECK(sw_acl_topic_visible(e, "hb.", 3));
}

static void count_prefix(void *opaque, const char *p, size_t len)
{
    (void)p;
    (void)len;
    (*(size_t *)opaque)++;
}

static void fuzz_acl_file(const char *path)
{
    char err[1024] = "";
    sw_acl_t *acl = sw_acl_load(path, err, sizeof(err));
    if (acl == NULL) {
        CHECK(err[0] != '\0');
        return;
    }
    for (size_t i = 0; i < acl->n; i++) {
        const sw_acl_entry_t *e = &acl->v[i];
        check_entry(e);
        CHECK(strlen(e->key_z85) == SW_Z85_KEY_LEN);
        uint8_t key[32];
        CHECK(sw_z85_key_valid(e->key_z85, key));
        CHECK(memcmp(key, e->key, 32) == 0);
        CHECK(sw_acl_find_key(acl, e->key) == e);
        CHECK(sw_acl_find_name(acl, e->name, strlen(e->name)) == e);
        size_t n = 0;
        sw_acl_map_prefix(e, "alert.", 6, count_prefix, &n);
        CHECK(n >= 1);
    }
    sw_acl_free(&acl);
    CHECK(acl == NULL);
}

static void fuzz_viewers_file(const char *path)
{
    char err[1024] = "";
    sw_viewers_t *vs = sw_viewers_load(path, err, sizeof(err));
    if (vs == NULL) {
        CHECK(err[0] != '\0');
        return;
    }
    for (size_t i = 0; i < vs->n; i++) {
        const sw_viewer_t *v = &vs->v[i];
        check_entry(&v->acl);
        CHECK(v->role == SW_ROLE_VIEWER || v->role == SW_ROLE_OPERATOR);
        CHECK(sw_role_parse(sw_role_name(v->role)) == (int)v->role);
        CHECK(sw_viewers_find_name(vs, v->acl.name) == v);
        for (size_t j = 0; j < i; j++)
            CHECK(memcmp(vs->v[j].hash, v->hash, 32) != 0);
    }
    CHECK(sw_viewers_find_token(vs, "not-a-token", 11) == NULL);
    sw_viewers_free(&vs);
    CHECK(vs == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *path = fuzz_file_write(data + 1, size - 1);
    if (path == NULL)
        return 0;
    switch (data[0] % 4) {
    case 1:
        fuzz_acl_file(path);
        break;
    case 2:
        fuzz_viewers_file(path);
        break;
    default:
        fuzz_config_file(path);
        break;
    }
    return 0;
}
