/* sw_config: INI files through libinih, and property lists. */
#include "sw_config.h"
#include "sw_err.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

int sw_props_set(sw_props_t *self, const char *key, const char *value,
                 const char *origin)
{
    char *v = strdup(value), *o = dup_or_null(origin);
    if (v == NULL || (origin && o == NULL))
        goto nomem;
    for (size_t i = 0; i < self->n; i++) {
        if (strcmp(self->v[i].key, key) == 0) {
            free(self->v[i].value);
            free(self->v[i].origin);
            self->v[i].value = v;
            self->v[i].origin = o;
            return 0;
        }
    }
    if (self->n == self->cap) {
        size_t cap = self->cap ? 2 * self->cap : 16;
        sw_prop_t *nv = realloc(self->v, cap * sizeof(*nv));
        if (nv == NULL)
            goto nomem;
        self->v = nv;
        self->cap = cap;
    }
    char *k = strdup(key);
    if (k == NULL)
        goto nomem;
    self->v[self->n++] = (sw_prop_t){k, v, o};
    return 0;
nomem:
    free(v);
    free(o);
    return SW_ERR_NOMEM;
}

int sw_props_set_kv(sw_props_t *self, const char *kv, const char *origin)
{
    const char *eq = strchr(kv, '=');
    if (eq == NULL || eq == kv)
        return SW_ERR_INVAL;
    char key[256];
    size_t n = (size_t)(eq - kv);
    if (n >= sizeof(key))
        return SW_ERR_INVAL;
    memcpy(key, kv, n);
    key[n] = '\0';
    return sw_props_set(self, key, eq + 1, origin);
}

const sw_prop_t *sw_props_find(const sw_props_t *self, const char *key)
{
    for (size_t i = 0; i < self->n; i++)
        if (strcmp(self->v[i].key, key) == 0)
            return &self->v[i];
    return NULL;
}

void sw_props_remove(sw_props_t *self, const char *key)
{
    for (size_t i = 0; i < self->n; i++) {
        if (strcmp(self->v[i].key, key) == 0) {
            free(self->v[i].key);
            free(self->v[i].value);
            free(self->v[i].origin);
            memmove(&self->v[i], &self->v[i + 1],
                    (self->n - i - 1) * sizeof(self->v[0]));
            self->n--;
            return;
        }
    }
}

void sw_props_deinit(sw_props_t *self)
{
    for (size_t i = 0; i < self->n; i++) {
        free(self->v[i].key);
        free(self->v[i].value);
        free(self->v[i].origin);
    }
    free(self->v);
    memset(self, 0, sizeof(*self));
}

/* ------------------------------------------------------------------ INI */

typedef struct {
    FILE *f;
    int line; /* number of the line inih is handling */
    sw_config_t *cfg;
    int nomem;
    int too_long; /* number of a line that does not fit inih's buffer */
} load_ctx_t;

/* inih calls the reader once per line, then the handler for that line, so
 * counting here gives the handler the right line number without relying on
 * how libinih was built (INI_HANDLER_LINENO). */
static char *reader(char *str, int num, void *stream)
{
    load_ctx_t *ctx = stream;
    char *r = fgets(str, num, ctx->f);
    if (r != NULL) {
        ctx->line++;
        /* inih would take the rest of a line that does not fit as a line of
         * its own (a bogus key, or a continuation that replaces the value):
         * stop at such a line instead */
        size_t n = strlen(r);
        if (n == (size_t)num - 1 && r[n - 1] != '\n') {
            int c = getc(ctx->f);
            if (c != '\n' && c != EOF) {
                ctx->too_long = ctx->line;
                return NULL;
            }
        }
    }
    return r;
}

int sw_config_add(sw_config_t *c, const char *section, const char *key,
                  const char *value, int line)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 32;
        sw_config_entry_t *ne = realloc(c->e, cap * sizeof(*ne));
        if (ne == NULL)
            return SW_ERR_NOMEM;
        c->e = ne;
        c->cap = cap;
    }
    sw_config_entry_t *e = &c->e[c->n];
    e->section = strdup(section ? section : "");
    e->key = strdup(key ? key : "");
    e->value = strdup(value ? value : "");
    e->line = line;
    if (!e->section || !e->key || !e->value) {
        free(e->section);
        free(e->key);
        free(e->value);
        return SW_ERR_NOMEM;
    }
    c->n++;
    return 0;
}

sw_config_t *sw_config_new(const char *path)
{
    sw_config_t *cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL)
        return NULL;
    cfg->path = strdup(path ? path : "");
    if (cfg->path == NULL) {
        free(cfg);
        return NULL;
    }
    return cfg;
}

static int handler(void *user, const char *section, const char *name,
                   const char *value)
{
    load_ctx_t *ctx = user;
    if (sw_config_add(ctx->cfg, section, name, value, ctx->line)) {
        ctx->nomem = 1;
        return 0;
    }
    return 1;
}

sw_config_t *sw_config_load(const char *path, char *errstr, size_t errstr_size)
{
    load_ctx_t ctx = {0};
    sw_config_t *cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL || (cfg->path = strdup(path)) == NULL) {
        snprintf(errstr, errstr_size, "%s: out of memory", path);
        goto fail;
    }
    ctx.cfg = cfg;
    ctx.f = fopen(path, "r");
    if (ctx.f == NULL) {
        snprintf(errstr, errstr_size, "%s: cannot open: %s", path,
                 strerror(errno));
        goto fail;
    }
    int rc = ini_parse_stream(reader, &ctx, handler, &ctx);
    int read_err = ferror(ctx.f);
    fclose(ctx.f);
    if (ctx.nomem) {
        snprintf(errstr, errstr_size, "%s: out of memory", path);
        goto fail;
    }
    if (read_err) {
        snprintf(errstr, errstr_size, "%s: read error", path);
        goto fail;
    }
    if (rc > 0) {
        snprintf(errstr, errstr_size,
                 "%s:%d: syntax error (expected \"[section]\", \"key = "
                 "value\", or a comment starting with ';' or '#'; lines are "
                 "limited to %d bytes)",
                 path, rc, INI_MAX_LINE - 2);
        goto fail;
    }
    if (ctx.too_long) {
        snprintf(errstr, errstr_size,
                 "%s:%d: line is too long (lines are limited to %d bytes)",
                 path, ctx.too_long, INI_MAX_LINE - 2);
        goto fail;
    }
    if (rc < 0) {
        snprintf(errstr, errstr_size, "%s: cannot be read", path);
        goto fail;
    }
    return cfg;
fail:
    sw_config_destroy(&cfg);
    return NULL;
}

void sw_config_destroy(sw_config_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    sw_config_t *c = *self_p;
    for (size_t i = 0; i < c->n; i++) {
        free(c->e[i].section);
        free(c->e[i].key);
        free(c->e[i].value);
    }
    free(c->e);
    free(c->path);
    free(c);
    *self_p = NULL;
}

const sw_config_entry_t *sw_config_find(const sw_config_t *self,
                                        const char *section, const char *key)
{
    for (size_t i = self->n; i-- > 0;)
        if (strcmp(self->e[i].section, section) == 0 &&
            strcmp(self->e[i].key, key) == 0)
            return &self->e[i];
    return NULL;
}
