/* hub_web: the hub's web view (hub_web.h, docs/web.md). */
#include "hub_web.h"

#include "sw_acl.h"
#include "sw_alert_log.h"
#include "sw_event.h"
#include "sw_http.h"
#include "sw_log.h"
#include "sw_profile_eval.h"
#include "sw_redis.h"
#include "sw_settings.h"
#include "sw_thresholds.h"
#include "sw_time.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <microhttpd.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <yajl/yajl_tree.h>
#include <zlib.h>

#define MOD "web"
#define RING 8192          /* alerts kept in memory for the streams */
#define SERIES_RING 4096   /* series updates kept for the streams */
#define SPARK_BUCKETS 48   /* buckets per tile in /api/state */
#define RECENT_MAX 50      /* transitions in /api/state */
#define RECENT_SCAN 2000   /* log entries scanned for them */
#define SECTION_DEFAULT 90 /* buckets of /api/section by default */
#define SECTION_MAX 5000   /* buckets a period may span */
#define CHAIN_MAX 20000    /* alerts walked back for /api/section */
#define CHAIN_OLD                                                              \
    256             /* ... stopping after this many in a row older             \
                     * than the period */
#define SET_MAX 32  /* set= parameters of a preview */
#define HB_MS 15000 /* comment line on an idle stream */
#define CATCHUP_COUNT 500

extern const unsigned char sw_web_page[];
extern const size_t sw_web_page_len;

typedef struct ring_ent {
    uint64_t seq;
    char section[SW_SECTION_MAX + 1];
    char *frame; /* "id: N\nevent: alert\ndata: JSON\n\n" */
    size_t len;
} ring_ent_t;

typedef struct series_ent {
    uint64_t gen;
    char section[SW_SECTION_MAX + 1];
    char *frame;
    size_t len;
} series_ent_t;

typedef struct silence {
    char pattern[128];
    char *json;
} silence_t;

struct hub_web {
    char listen[128], viewers_path[1024], redis_url[1024], prefix[80],
        hub_name[128];
    int redis_timeout_ms;
    struct MHD_Daemon *d;
    int port;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    ring_ent_t ring[RING];
    uint64_t ring_total; /* alerts ever put in the ring */
    uint64_t last_seq;
    series_ent_t series[SERIES_RING];
    uint64_t series_gen;
    silence_t *silences;
    size_t nsilences;
    uint64_t silences_gen;
    int stopping;

    pthread_rwlock_t vlock;
    sw_viewers_t *viewers; /* NULL: no access control */

    pthread_t follow_t;
    int follow_started;

    char k_stream[128], k_seq[128], k_active[128], k_last[128],
        k_series_meta[128], k_series_chan[128], k_sil[128], k_sil_active[128];
    sw_th_keys_t th;

    _Atomic uint64_t m_requests, m_denied, m_bad, m_streams_open,
        m_streams_total, m_streamed, m_catchup, m_redis_errors;
};

/* Everything visible, operator: the viewer of a web view without a
 * viewers file. */
static const sw_viewer_t anonymous = {
    .role = SW_ROLE_OPERATOR,
    .acl = {.name = "anonymous", .all = 1},
};

/* ------------------------------------------------------- a string buffer */

typedef struct sb {
    char *p;
    size_t n, cap;
    int oom;
} sb_t;

static int sb_reserve(sb_t *b, size_t more)
{
    if (b->oom)
        return -1;
    if (b->n + more + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + more + 1)
        cap *= 2;
    char *np = realloc(b->p, cap);
    if (np == NULL) {
        b->oom = 1;
        return -1;
    }
    b->p = np;
    b->cap = cap;
    return 0;
}

static void sb_add(sb_t *b, const char *s, size_t len)
{
    if (sb_reserve(b, len))
        return;
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = '\0';
}

static void sb_puts(sb_t *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static void sb_printf(sb_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void sb_printf(sb_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[512];
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(tmp)) {
        sb_add(b, tmp, (size_t)n);
        return;
    }
    if (sb_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)n;
}

static void sb_str(sb_t *b, const char *s)
{
    size_t cap = strlen(s) * 6 + 3;
    if (sb_reserve(b, cap))
        return;
    b->n += sw_json_str(s, b->p + b->n, cap);
}

static void sb_num(sb_t *b, double v)
{
    if (isnan(v) || isinf(v))
        sb_puts(b, "null");
    else
        sb_printf(b, "%.10g", v); /* counts and bounds are whole */
}

/* ------------------------------------------------------------- access */

static int visible(const sw_viewer_t *v, const char *section)
{
    char topic[SW_TOPIC_MAX];
    size_t tl = sw_alert_topic(section, topic);
    return sw_acl_topic_visible(&v->acl, topic, tl);
}

/* A silence is shown to a viewer who may see some section it can cover:
 * everyone who sees everything, else when the pattern matches one of the
 * viewer's sections (or lies under one). */
static int silence_visible(const sw_viewer_t *v, const char *pattern)
{
    if (v->acl.all)
        return 1;
    for (size_t i = 0; i < v->acl.nsections; i++) {
        const char *s = v->acl.sections[i];
        size_t n = strlen(s);
        if (sw_section_match(pattern, s) ||
            (strncmp(pattern, s, n) == 0 && pattern[n] == '/'))
            return 1;
    }
    return 0;
}

/* --------------------------------------------------------------- ring */

void hub_web_alert(hub_web_t *self, const sw_wire_alert_t *w)
{
    if (self == NULL)
        return;
    char json[SW_WIRE_JSON_MAX];
    size_t jl = sw_wire_alert_to_json(w, json, sizeof(json));
    if (jl == 0)
        return;
    size_t cap = jl + 64;
    char *frame = malloc(cap);
    if (frame == NULL)
        return;
    int n = snprintf(frame, cap, "id: %" PRIu64 "\nevent: alert\ndata: %s\n\n",
                     w->seq, json);
    pthread_mutex_lock(&self->mu);
    ring_ent_t *e = &self->ring[self->ring_total % RING];
    free(e->frame);
    e->seq = w->seq;
    snprintf(e->section, sizeof(e->section), "%s", w->a.section);
    e->frame = frame;
    e->len = (size_t)n;
    self->ring_total++;
    self->last_seq = w->seq;
    pthread_cond_broadcast(&self->cv);
    pthread_mutex_unlock(&self->mu);
}

void hub_web_set_start(hub_web_t *self, uint64_t next)
{
    if (self == NULL || next == 0)
        return;
    pthread_mutex_lock(&self->mu);
    if (self->ring_total == 0 && next - 1 > self->last_seq)
        self->last_seq = next - 1;
    pthread_mutex_unlock(&self->mu);
}

/* The ring index of the first entry with seq >= seq (ring_total when
 * none); *oldest gets the oldest seq held (0: empty). Under mu. */
static uint64_t ring_find(const hub_web_t *h, uint64_t seq, uint64_t *oldest)
{
    uint64_t lo = h->ring_total > RING ? h->ring_total - RING : 0;
    uint64_t hi = h->ring_total;
    *oldest = lo < hi ? h->ring[lo % RING].seq : 0;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (h->ring[mid % RING].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* ------------------------------------------------------------- Redis */

static redisContext *redis(hub_web_t *h, char *err, size_t errsz)
{
    redisContext *rc =
        sw_redis_connect(h->redis_url, h->redis_timeout_ms, err, errsz);
    if (rc == NULL)
        atomic_fetch_add(&h->m_redis_errors, 1);
    return rc;
}

static redisReply *cmdv(hub_web_t *h, redisContext *rc, char *err, size_t errsz,
                        const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(rc, fmt, ap);
    va_end(ap);
    if (sw_redis_reply_error(rc, r, "Redis", err, errsz)) {
        if (r)
            freeReplyObject(r);
        atomic_fetch_add(&h->m_redis_errors, 1);
        return NULL;
    }
    return r;
}

/* A log entry into w, or -1 (held back by a silence, or not an alert). */
static int entry_alert(const redisReply *e, sw_wire_alert_t *w)
{
    char err[256];
    return sw_alert_log_entry_decode(e, w, err, sizeof(err));
}

/* "START COUNT EXPECTED BOUND ALARM" as a BUCKET array. Returns 0 or -1
 * (not such a member). *start gets START, *count COUNT. */
static int bucket_parse(const char *m, int64_t *start, double *count,
                        double *expected, double *bound, int *alarm)
{
    long long s;
    double c;
    char ex[32], bo[32];
    int al;
    if (sscanf(m, "%lld %lf %31s %31s %d", &s, &c, ex, bo, &al) != 5)
        return -1;
    *start = s;
    *count = c;
    *expected = strcmp(ex, "-") == 0 ? NAN : strtod(ex, NULL);
    *bound = strcmp(bo, "-") == 0 ? NAN : strtod(bo, NULL);
    *alarm = al != 0;
    return 0;
}

static void sb_bucket(sb_t *b, int64_t start, double count, double expected,
                      double bound, int alarm)
{
    sb_printf(b, "[%" PRId64 ",", start);
    sb_num(b, count);
    sb_puts(b, ",");
    sb_num(b, expected);
    sb_puts(b, ",");
    sb_num(b, bound);
    sb_printf(b, ",%d]", alarm);
}

static void sb_member(sb_t *b, const char *m)
{
    int64_t s;
    double c, e, bo;
    int al;
    if (bucket_parse(m, &s, &c, &e, &bo, &al) == 0)
        sb_bucket(b, s, c, e, bo, al);
    else
        sb_puts(b, "null");
}

static int64_t bucket_ms_of(hub_web_t *h, redisContext *rc, char *err,
                            size_t errsz)
{
    redisReply *r =
        cmdv(h, rc, err, errsz, "HGET %s bucket_ms", h->k_series_meta);
    if (r == NULL)
        return -1;
    int64_t b = r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
    freeReplyObject(r);
    return b;
}

/* ------------------------------------------------------------ replies */

/* body gzipped into *out (malloc'd), when the client accepts gzip and
 * the body is worth it. Returns the length, or 0 (send it plain). */
static size_t gzip_body(struct MHD_Connection *c, const void *body, size_t len,
                        unsigned char **out)
{
    const char *ae =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Encoding");
    if (len < 1024 || ae == NULL || strstr(ae, "gzip") == NULL)
        return 0;
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return 0;
    uLong cap = deflateBound(&z, (uLong)len);
    unsigned char *buf = malloc(cap);
    if (buf == NULL) {
        deflateEnd(&z);
        return 0;
    }
    z.next_in = (Bytef *)(uintptr_t)body;
    z.avail_in = (uInt)len;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    int r = deflate(&z, Z_FINISH);
    size_t n = cap - z.avail_out;
    deflateEnd(&z);
    if (r != Z_STREAM_END) {
        free(buf);
        return 0;
    }
    *out = buf;
    return n;
}

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status,
                               const char *type, const void *body, size_t len,
                               int copy)
{
    unsigned char *gz = NULL;
    size_t gzl = gzip_body(c, body, len, &gz);
    struct MHD_Response *r =
        gzl ? MHD_create_response_from_buffer(gzl, gz, MHD_RESPMEM_MUST_FREE)
            : MHD_create_response_from_buffer(len, (void *)body,
                                              copy ? MHD_RESPMEM_MUST_COPY
                                                   : MHD_RESPMEM_PERSISTENT);
    if (r == NULL) {
        free(gz);
        return MHD_NO;
    }
    if (gzl)
        MHD_add_response_header(r, "Content-Encoding", "gzip");
    MHD_add_response_header(r, "Vary", "Accept-Encoding");
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(
        r, "Content-Security-Policy",
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src "
        "'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result json_reply(struct MHD_Connection *c, unsigned status,
                                  sb_t *b)
{
    if (b->oom) {
        static const char oom[] = "{\"error\":\"out of memory\"}";
        free(b->p);
        return respond(c, 500, "application/json", oom, sizeof(oom) - 1, 0);
    }
    enum MHD_Result r =
        respond(c, status, "application/json", b->p ? b->p : "", b->n, 1);
    free(b->p);
    return r;
}

static enum MHD_Result error_reply(hub_web_t *h, struct MHD_Connection *c,
                                   unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static enum MHD_Result error_reply(hub_web_t *h, struct MHD_Connection *c,
                                   unsigned status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (status == 401 || status == 403)
        atomic_fetch_add(&h->m_denied, 1);
    else if (status == 400 || status == 404 || status == 405)
        atomic_fetch_add(&h->m_bad, 1);
    sb_t b = {0};
    sb_puts(&b, "{\"error\":");
    sb_str(&b, msg);
    sb_puts(&b, "}");
    return json_reply(c, status, &b);
}

static const char login_page[] =
    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
    "<title>surgewatch: sign in</title><style>body{font:18px system-ui,"
    "sans-serif;background:#1b1f24;color:#eef;display:grid;place-items:"
    "center;min-height:90vh}form{background:#262c33;padding:2em;border-"
    "radius:8px}input{font:inherit;width:24em;max-width:80vw;padding:.4em}"
    "button{font:inherit;padding:.4em 1em;margin-top:1em}</style></head>"
    "<body><form method=\"get\" action=\"./\"><h1>surgewatch</h1>"
    "<p><label for=\"token\">Access token (from your administrator: "
    "<code>surgewatch keygen --web-token</code>)</label></p>"
    "<input id=\"token\" name=\"token\" type=\"password\" "
    "autocomplete=\"current-password\" required autofocus>"
    "<br><button type=\"submit\">Open the situational picture</button>"
    "</form></body></html>";

/* ---------------------------------------------------------------- auth */

/* The token a request carries (header, then cookie), or NULL. */
static const char *request_token(struct MHD_Connection *c, size_t *len)
{
    const char *a =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (a && strncasecmp(a, "Bearer ", 7) == 0) {
        a += 7;
        while (*a == ' ')
            a++;
        *len = strlen(a);
        return a;
    }
    const char *k = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "sw_token");
    if (k) {
        *len = strlen(k);
        return k;
    }
    return NULL;
}

/* The viewer of a request, under vlock (read), or NULL (held lock
 * anyway; the caller unlocks). */
static const sw_viewer_t *viewer_of(hub_web_t *h, const char *token, size_t len)
{
    if (h->viewers == NULL)
        return &anonymous;
    if (token == NULL || len == 0 || len > 256)
        return NULL;
    return sw_viewers_find_token(h->viewers, token, len);
}

/* ------------------------------------------------------------ /api/state */

typedef struct sec_level {
    char **names;
    int *level; /* -1 none */
    size_t n;
} sec_level_t;

static long sec_index(const sec_level_t *s, const char *name)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(s->names[mid], name);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static void sb_silences(hub_web_t *h, sb_t *b, const sw_viewer_t *v)
{
    sb_puts(b, "[");
    int first = 1;
    pthread_mutex_lock(&h->mu);
    for (size_t i = 0; i < h->nsilences; i++) {
        if (!silence_visible(v, h->silences[i].pattern))
            continue;
        if (!first)
            sb_puts(b, ",");
        first = 0;
        sb_puts(b, h->silences[i].json);
    }
    pthread_mutex_unlock(&h->mu);
    sb_puts(b, "]");
}

static enum MHD_Result api_state(hub_web_t *h, struct MHD_Connection *c,
                                 const sw_viewer_t *v)
{
    char err[512];
    redisContext *rc = redis(h, err, sizeof(err));
    if (rc == NULL)
        return error_reply(h, c, 503, "Redis unavailable: %s", err);
    char **all = NULL;
    sec_level_t s = {0};
    redisReply *seq = NULL, *act = NULL, *rev = NULL;
    enum MHD_Result ret;
    if (sw_thresholds_sections(rc, &h->th, &all, err, sizeof(err))) {
        ret = error_reply(h, c, 503, "Redis: %s", err);
        goto out;
    }
    size_t na = 0;
    while (all[na])
        na++;
    s.names = calloc(na + 1, sizeof(*s.names));
    s.level = calloc(na + 1, sizeof(*s.level));
    if (s.names == NULL || s.level == NULL) {
        ret = error_reply(h, c, 500, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < na; i++)
        if (visible(v, all[i])) {
            s.level[s.n] = -1;
            s.names[s.n++] = all[i];
        }
    int64_t bucket_ms = bucket_ms_of(h, rc, err, sizeof(err));
    seq = cmdv(h, rc, err, sizeof(err), "GET %s", h->k_seq);
    act = seq ? cmdv(h, rc, err, sizeof(err), "HGETALL %s", h->k_active) : NULL;
    rev = act ? cmdv(h, rc, err, sizeof(err), "XREVRANGE %s + - COUNT %d",
                     h->k_stream, RECENT_SCAN)
              : NULL;
    if (bucket_ms < 0 || rev == NULL) {
        ret = error_reply(h, c, 503, "%s", err);
        goto out;
    }
    for (size_t i = 0; i < s.n; i++)
        redisAppendCommand(rc, "ZRANGE %s:series:%s -%d -1", h->prefix,
                           s.names[i], SPARK_BUCKETS);

    sb_t b = {0};
    sb_puts(&b, "{\"hub\":");
    sb_str(&b, h->hub_name);
    sb_puts(&b, ",\"viewer\":{\"name\":");
    sb_str(&b, v->acl.name);
    sb_printf(&b,
              ",\"role\":\"%s\"},\"seq\":%llu,\"bucket_ms\":%" PRId64
              ",\"now\":%" PRId64,
              sw_role_name(v->role),
              seq->type == REDIS_REPLY_STRING
                  ? (unsigned long long)strtoull(seq->str, NULL, 10)
                  : 0ULL,
              bucket_ms, sw_clock_now_ms());
    /* the active alerts, and each section's level from them */
    sb_t active = {0};
    sb_puts(&active, "[");
    int first = 1;
    for (size_t i = 0; act->type == REDIS_REPLY_ARRAY && i + 1 < act->elements;
         i += 2) {
        const redisReply *x = act->element[i + 1];
        sw_wire_alert_t w;
        char e2[256];
        if (x->type != REDIS_REPLY_STRING ||
            sw_alert_from_json(x->str, x->len, &w, e2, sizeof(e2)) ||
            !visible(v, w.a.section))
            continue;
        long k = sec_index(&s, w.a.section);
        if (k >= 0 && (int)w.a.level > s.level[k])
            s.level[k] = (int)w.a.level;
        char json[SW_WIRE_JSON_MAX];
        size_t jl = sw_wire_alert_to_json(&w, json, sizeof(json));
        if (jl == 0)
            continue;
        if (!first)
            sb_puts(&active, ",");
        first = 0;
        sb_add(&active, json, jl);
    }
    sb_puts(&active, "]");
    sb_puts(&b, ",\"sections\":[");
    for (size_t i = 0; i < s.n; i++) {
        redisReply *z = NULL;
        if (redisGetReply(rc, (void **)&z) != REDIS_OK || z == NULL) {
            free(active.p);
            free(b.p);
            ret = error_reply(h, c, 503, "Redis: %s",
                              rc->err ? rc->errstr : "no reply");
            goto out;
        }
        sb_puts(&b, i ? ",{\"section\":" : "{\"section\":");
        sb_str(&b, s.names[i]);
        if (s.level[i] >= 0)
            sb_printf(&b, ",\"level\":\"%s\"",
                      sw_level_name((sw_level_t)s.level[i]));
        else
            sb_puts(&b, ",\"level\":null");
        sb_puts(&b, ",\"series\":[");
        for (size_t j = 0; z->type == REDIS_REPLY_ARRAY && j < z->elements;
             j++) {
            if (j)
                sb_puts(&b, ",");
            sb_member(&b, z->element[j]->str);
        }
        sb_puts(&b, "]}");
        freeReplyObject(z);
    }
    sb_puts(&b, "],\"active\":");
    sb_add(&b, active.p ? active.p : "[]", active.p ? active.n : 2);
    free(active.p);
    /* the latest visible transitions, oldest first */
    sb_puts(&b, ",\"recent\":[");
    size_t picked[RECENT_MAX], np = 0;
    for (size_t i = 0;
         rev->type == REDIS_REPLY_ARRAY && i < rev->elements && np < RECENT_MAX;
         i++) {
        sw_wire_alert_t w;
        memset(&w, 0, sizeof(w));
        if (entry_alert(rev->element[i], &w) == 0 && visible(v, w.a.section))
            picked[np++] = i;
    }
    for (size_t k = np; k-- > 0;) {
        sw_wire_alert_t w;
        memset(&w, 0, sizeof(w));
        entry_alert(rev->element[picked[k]], &w);
        char json[SW_WIRE_JSON_MAX];
        size_t jl = sw_wire_alert_to_json(&w, json, sizeof(json));
        if (jl == 0)
            continue;
        if (k + 1 != np)
            sb_puts(&b, ",");
        sb_add(&b, json, jl);
    }
    sb_puts(&b, "],\"silences\":");
    sb_silences(h, &b, v);
    sb_puts(&b, "}");
    ret = json_reply(c, 200, &b);
out:
    if (seq)
        freeReplyObject(seq);
    if (act)
        freeReplyObject(act);
    if (rev)
        freeReplyObject(rev);
    free(s.names);
    free(s.level);
    sw_strv_free(all);
    redisFree(rc);
    return ret;
}

/* ------------------------------------------------ /api/section, preview */

/* A time parameter: RFC 3339, a date (YYYY-MM-DD) or ms since the epoch.
 * Returns 0 (absent: *ms untouched), or -1. */
static int time_param(struct MHD_Connection *c, const char *name, int64_t *ms)
{
    const char *s = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
    if (s == NULL || *s == '\0')
        return 0;
    size_t n = strlen(s);
    if (n == 10 && s[4] == '-' && s[7] == '-') {
        char full[32];
        snprintf(full, sizeof(full), "%sT00:00:00Z", s);
        return sw_time_parse_rfc3339(full, strlen(full), ms) ? -1 : 0;
    }
    if (strspn(s, "0123456789") == n && n <= 15) {
        *ms = strtoll(s, NULL, 10);
        return 0;
    }
    return sw_time_parse_rfc3339(s, n, ms) ? -1 : 0;
}

static int64_t floor_to(int64_t t, int64_t b)
{
    int64_t q = t / b;
    if (t % b != 0 && t < 0)
        q--;
    return q * b;
}

typedef struct period {
    char section[SW_SECTION_MAX + 1];
    int64_t bucket_ms, from, to; /* bucket starts, inclusive */
} period_t;

/* Reads name/from/to into p (from Redis: bucket size, latest bucket).
 * Returns 0, or an HTTP status with msg set. */
static unsigned period_of(hub_web_t *h, struct MHD_Connection *c,
                          const sw_viewer_t *v, redisContext *rc, period_t *p,
                          char *msg, size_t msz)
{
    const char *name =
        MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "name");
    if (name == NULL || !sw_section_valid(name, strlen(name))) {
        snprintf(msg, msz,
                 "name: %s (accepted: a section id such as HU-RS or "
                 "HU-RS/roszke)",
                 name ? "not a section id" : "missing");
        return 400;
    }
    if (!visible(v, name)) {
        snprintf(msg, msz, "section %s is not visible to %s", name,
                 v->acl.name);
        return 403;
    }
    snprintf(p->section, sizeof(p->section), "%s", name);
    p->bucket_ms = bucket_ms_of(h, rc, msg, msz);
    if (p->bucket_ms < 0)
        return 503;
    if (p->bucket_ms == 0) {
        snprintf(msg, msz,
                 "no series in Redis yet (the workers write them once they "
                 "have closed a bucket)");
        return 404;
    }
    int64_t from = INT64_MIN, to = INT64_MIN;
    if (time_param(c, "from", &from) || time_param(c, "to", &to)) {
        snprintf(msg, msz,
                 "from/to: not a time (accepted: RFC 3339, YYYY-MM-DD or "
                 "milliseconds since the epoch)");
        return 400;
    }
    if (to == INT64_MIN) {
        redisReply *r =
            cmdv(h, rc, msg, msz, "ZRANGE %s:series:%s -1 -1", h->prefix, name);
        if (r == NULL)
            return 503;
        int64_t s;
        double x, y, z;
        int al;
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
            bucket_parse(r->element[0]->str, &s, &x, &y, &z, &al) == 0)
            to = s;
        else
            to = sw_clock_now_ms();
        freeReplyObject(r);
    }
    to = floor_to(to, p->bucket_ms);
    if (from == INT64_MIN)
        from = to - (SECTION_DEFAULT - 1) * p->bucket_ms;
    from = floor_to(from, p->bucket_ms);
    if (from > to) {
        snprintf(msg, msz, "from is after to");
        return 400;
    }
    if ((to - from) / p->bucket_ms + 1 > SECTION_MAX) {
        snprintf(msg, msz,
                 "the period spans %" PRId64 " buckets (accepted: at most %d)",
                 (to - from) / p->bucket_ms + 1, SECTION_MAX);
        return 400;
    }
    p->from = from;
    p->to = to;
    return 0;
}

/* The transitions of a section whose window ends in [from, to + bucket],
 * oldest first, into b as a JSON array: walked back from the section's
 * last alert through each entry's `prev`. */
static int section_alerts(hub_web_t *h, redisContext *rc, const period_t *p,
                          sb_t *b, char *err, size_t errsz)
{
    redisReply *r =
        cmdv(h, rc, err, errsz, "HGET %s %s", h->k_last, p->section);
    if (r == NULL)
        return -1;
    uint64_t seq =
        r->type == REDIS_REPLY_STRING ? strtoull(r->str, NULL, 10) : 0;
    freeReplyObject(r);
    char **jsons = NULL;
    size_t n = 0;
    int rc_ = 0;
    int old_run = 0;
    for (int hops = 0; seq > 0 && hops < CHAIN_MAX; hops++) {
        redisReply *x =
            cmdv(h, rc, err, errsz, "XRANGE %s %llu-1 %llu-1", h->k_stream,
                 (unsigned long long)seq, (unsigned long long)seq);
        if (x == NULL) {
            rc_ = -1;
            break;
        }
        sw_wire_alert_t w;
        memset(&w, 0, sizeof(w));
        int ok = x->type == REDIS_REPLY_ARRAY && x->elements == 1 &&
                 entry_alert(x->element[0], &w) == 0;
        freeReplyObject(x);
        if (!ok)
            break; /* trimmed */
        /* transitions come in seq order, not window order: an ack or a
         * late resolve of an old alert can follow newer ones */
        if (w.a.window_end < p->from) {
            if (++old_run >= CHAIN_OLD)
                break;
        } else {
            old_run = 0;
        }
        if (w.a.window_end >= p->from &&
            w.a.window_end <= p->to + p->bucket_ms) {
            char json[SW_WIRE_JSON_MAX];
            size_t jl = sw_wire_alert_to_json(&w, json, sizeof(json));
            char **nv = realloc(jsons, (n + 1) * sizeof(*nv));
            if (nv == NULL) {
                rc_ = -1;
                snprintf(err, errsz, "out of memory");
                break;
            }
            jsons = nv;
            jsons[n] = jl ? strdup(json) : NULL;
            if (jsons[n])
                n++;
        }
        seq = w.prev < seq ? w.prev : 0;
    }
    sb_puts(b, "[");
    for (size_t i = n; i-- > 0;) {
        sb_puts(b, jsons[i]);
        if (i)
            sb_puts(b, ",");
        free(jsons[i]);
    }
    sb_puts(b, "]");
    free(jsons);
    return rc_;
}

static enum MHD_Result api_section(hub_web_t *h, struct MHD_Connection *c,
                                   const sw_viewer_t *v)
{
    char err[512];
    redisContext *rc = redis(h, err, sizeof(err));
    if (rc == NULL)
        return error_reply(h, c, 503, "Redis unavailable: %s", err);
    period_t p;
    enum MHD_Result ret;
    unsigned st = period_of(h, c, v, rc, &p, err, sizeof(err));
    redisReply *z = NULL;
    sw_threshold_set_t set = {0};
    if (st) {
        ret = error_reply(h, c, st, "%s", err);
        goto out;
    }
    z = cmdv(h, rc, err, sizeof(err),
             "ZRANGEBYSCORE %s:series:%s %" PRId64 " %" PRId64, h->prefix,
             p.section, p.from, p.to);
    if (z == NULL ||
        sw_thresholds_read(rc, &h->th, &set, NULL, err, sizeof(err))) {
        ret = error_reply(h, c, 503, "%s", err);
        goto out;
    }
    sb_t b = {0};
    sb_puts(&b, "{\"section\":");
    sb_str(&b, p.section);
    sb_printf(&b,
              ",\"bucket_ms\":%" PRId64 ",\"from\":%" PRId64 ",\"to\":%" PRId64
              ",\"series\":[",
              p.bucket_ms, p.from, p.to);
    for (size_t j = 0; z->type == REDIS_REPLY_ARRAY && j < z->elements; j++) {
        if (j)
            sb_puts(&b, ",");
        sb_member(&b, z->element[j]->str);
    }
    sb_puts(&b, "],\"alerts\":");
    if (section_alerts(h, rc, &p, &b, err, sizeof(err))) {
        free(b.p);
        ret = error_reply(h, c, 503, "%s", err);
        goto out;
    }
    /* the settings in force: the section's own, then the defaults it
     * does not override */
    sb_puts(&b, ",\"settings\":[");
    int first = 1;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < set.n; i++) {
            const sw_threshold_t *t = &set.v[i];
            if (pass == 0 ? strcmp(t->scope, p.section) != 0
                          : (strcmp(t->scope, SW_TH_SCOPE_DEFAULT) != 0 ||
                             sw_threshold_set_find(&set, p.section, t->key)))
                continue;
            sb_puts(&b, first ? "{\"key\":" : ",{\"key\":");
            first = 0;
            sb_str(&b, t->key);
            sb_puts(&b, ",\"value\":");
            sb_str(&b, t->value);
            sb_puts(&b, ",\"scope\":");
            sb_str(&b, t->scope);
            sb_puts(&b, "}");
        }
    sb_printf(&b, "],\"thresholds_version\":%" PRIu64 "}", set.version);
    ret = json_reply(c, 200, &b);
out:
    if (z)
        freeReplyObject(z);
    sw_threshold_set_deinit(&set);
    redisFree(rc);
    return ret;
}

typedef struct set_args {
    const char *v[SET_MAX];
    size_t n;
    int too_many;
} set_args_t;

static enum MHD_Result collect_set(void *cls, enum MHD_ValueKind kind,
                                   const char *key, const char *value)
{
    (void)kind;
    set_args_t *a = cls;
    if (strcmp(key, "set") != 0)
        return MHD_YES;
    if (a->n == SET_MAX) {
        a->too_many = 1;
        return MHD_NO;
    }
    a->v[a->n++] = value ? value : "";
    return MHD_YES;
}

/* One side of a preview: the period's buckets evaluated with profile pr
 * over counts (index 0 = bucket `first`). */
static void preview_side(sb_t *b, const sw_profile_t *pr, const uint32_t *cnt,
                         int64_t first, int64_t from_i, int64_t to_i,
                         int64_t bucket_ms)
{
    size_t lb = sw_profile_lookback(pr);
    int alarms = 0;
    sb_puts(b, "{\"series\":[");
    for (int64_t i = from_i; i <= to_i; i++) {
        int64_t lo = i - (int64_t)lb + 1;
        if (lo < 0)
            lo = 0;
        sw_bucket_eval_t ev;
        sw_profile_eval_bucket(pr, cnt + lo, (size_t)(i - lo + 1), &ev);
        alarms += ev.alarm;
        if (i > from_i)
            sb_puts(b, ",");
        sb_bucket(b, (first + i) * bucket_ms, cnt[i], ev.expected, ev.bound,
                  ev.alarm);
    }
    sb_printf(b, "],\"alarms\":%d}", alarms);
}

static enum MHD_Result api_preview(hub_web_t *h, struct MHD_Connection *c,
                                   const sw_viewer_t *v)
{
    if (v->role != SW_ROLE_OPERATOR)
        return error_reply(h, c, 403,
                           "preview is for operators (%s is a viewer)",
                           v->acl.name);
    set_args_t args = {0};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_set, &args);
    if (args.too_many)
        return error_reply(h, c, 400, "more than %d set= parameters", SET_MAX);
    if (args.n == 0)
        return error_reply(h, c, 400,
                           "set: missing (accepted: set=KEY=VALUE, as in "
                           "'surgewatch ctl set', e.g. "
                           "set=threshold.limit%%3D140)");
    char err[1024];
    redisContext *rc = redis(h, err, sizeof(err));
    if (rc == NULL)
        return error_reply(h, c, 503, "Redis unavailable: %s", err);
    period_t p;
    enum MHD_Result ret;
    sw_threshold_set_t set = {0};
    sw_settings_t base, cur, prop;
    int have_cur = 0, have_prop = 0;
    uint32_t *cnt = NULL;
    redisReply *z = NULL;
    sb_t ch = {0};
    sw_settings_default(&base);
    unsigned st = period_of(h, c, v, rc, &p, err, sizeof(err));
    if (st) {
        ret = error_reply(h, c, st, "%s", err);
        goto out;
    }
    if (sw_thresholds_read(rc, &h->th, &set, NULL, err, sizeof(err))) {
        ret = error_reply(h, c, 503, "%s", err);
        goto out;
    }
    have_cur = 1;
    if (sw_thresholds_build(&base, &set, &cur, err, sizeof(err))) {
        ret = error_reply(h, c, 500, "the stored thresholds do not build: %s",
                          err);
        goto out;
    }
    sb_puts(&ch, "[");
    for (size_t i = 0; i < args.n; i++) {
        const char *eq = strchr(args.v[i], '=');
        char key[SW_TH_KEY_MAX];
        size_t kl = eq ? (size_t)(eq - args.v[i]) : 0;
        if (eq == NULL || kl == 0 || kl >= sizeof(key) || eq[1] == '\0') {
            ret = error_reply(h, c, 400,
                              "set: '%s' is not KEY=VALUE (accepted: e.g. "
                              "threshold.limit=140, ears_c2.alpha=0.01, "
                              "run=ears_c2,cusum)",
                              args.v[i]);
            goto out;
        }
        memcpy(key, args.v[i], kl);
        key[kl] = '\0';
        const sw_threshold_t *old = sw_threshold_set_find(&set, p.section, key);
        if (old == NULL)
            old = sw_threshold_set_find(&set, SW_TH_SCOPE_DEFAULT, key);
        if (i)
            sb_puts(&ch, ",");
        sb_puts(&ch, "{\"key\":");
        sb_str(&ch, key);
        sb_puts(&ch, ",\"from\":");
        if (old)
            sb_str(&ch, old->value);
        else
            sb_puts(&ch, "null");
        sb_puts(&ch, ",\"to\":");
        sb_str(&ch, eq + 1);
        sb_puts(&ch, "}");
        if (sw_threshold_set_put(&set, p.section, key, eq + 1, err,
                                 sizeof(err))) {
            ret = error_reply(h, c, 400, "set %s: %s", args.v[i], err);
            goto out;
        }
    }
    sb_puts(&ch, "]");
    have_prop = 1;
    if (sw_thresholds_build(&base, &set, &prop, err, sizeof(err))) {
        ret = error_reply(h, c, 400, "%s", err);
        goto out;
    }
    const sw_profile_t *pc = sw_profiles_find(&cur.profiles, p.section);
    const sw_profile_t *pp = sw_profiles_find(&prop.profiles, p.section);
    if (pc == NULL || pp == NULL) {
        ret = error_reply(h, c, 400,
                          "section %s has no profile (the thresholds are "
                          "strict and list no [section %s])",
                          p.section, p.section);
        goto out;
    }
    size_t lb = sw_profile_lookback(pc);
    if (sw_profile_lookback(pp) > lb)
        lb = sw_profile_lookback(pp);
    /* counts from the first bucket any evaluation reads; buckets before
     * the section's first stored one are not history (as in the engine) */
    int64_t first = p.from / p.bucket_ms - (int64_t)lb + 1;
    int64_t last = p.to / p.bucket_ms;
    z = cmdv(h, rc, err, sizeof(err),
             "ZRANGEBYSCORE %s:series:%s %" PRId64 " %" PRId64, h->prefix,
             p.section, first * p.bucket_ms, p.to);
    if (z == NULL) {
        ret = error_reply(h, c, 503, "%s", err);
        goto out;
    }
    int64_t have_first = INT64_MAX;
    for (size_t j = 0; z->type == REDIS_REPLY_ARRAY && j < z->elements; j++) {
        int64_t s;
        double x, y, w;
        int al;
        if (bucket_parse(z->element[j]->str, &s, &x, &y, &w, &al) == 0 &&
            s / p.bucket_ms < have_first)
            have_first = s / p.bucket_ms;
    }
    if (have_first == INT64_MAX) {
        ret =
            error_reply(h, c, 404, "no buckets of %s in the period", p.section);
        goto out;
    }
    if (have_first > first)
        first = have_first;
    size_t n = (size_t)(last - first + 1);
    cnt = calloc(n ? n : 1, sizeof(*cnt));
    if (cnt == NULL) {
        ret = error_reply(h, c, 500, "out of memory");
        goto out;
    }
    for (size_t j = 0; j < z->elements; j++) {
        int64_t s;
        double x, y, w;
        int al;
        if (bucket_parse(z->element[j]->str, &s, &x, &y, &w, &al) == 0 &&
            s / p.bucket_ms >= first && s / p.bucket_ms <= last)
            cnt[s / p.bucket_ms - first] =
                x < 0 ? 0 : (x > 4e9 ? 4000000000u : (uint32_t)x);
    }
    sb_t b = {0};
    sb_puts(&b, "{\"section\":");
    sb_str(&b, p.section);
    sb_printf(&b,
              ",\"bucket_ms\":%" PRId64 ",\"from\":%" PRId64 ",\"to\":%" PRId64
              ",\"changes\":",
              p.bucket_ms, p.from, p.to);
    sb_add(&b, ch.p, ch.n);
    /* from the period's start, or the section's first stored bucket */
    int64_t from_i = p.from / p.bucket_ms - first;
    if (from_i < 0)
        from_i = 0;
    sb_puts(&b, ",\"current\":");
    preview_side(&b, pc, cnt, first, from_i, last - first, p.bucket_ms);
    sb_puts(&b, ",\"proposed\":");
    preview_side(&b, pp, cnt, first, from_i, last - first, p.bucket_ms);
    sb_puts(&b, "}");
    ret = json_reply(c, 200, &b);
out:
    free(ch.p);
    free(cnt);
    if (z)
        freeReplyObject(z);
    if (have_cur)
        sw_settings_deinit(&cur);
    if (have_prop)
        sw_settings_deinit(&prop);
    sw_settings_deinit(&base);
    sw_threshold_set_deinit(&set);
    redisFree(rc);
    return ret;
}

/* --------------------------------------------------------- /api/events */

typedef struct stream {
    hub_web_t *h;
    int fd; /* the connection's socket, to notice a viewer gone */
    char viewer[SW_ACL_NAME_MAX + 1];
    uint64_t next_seq;
    uint64_t series_gen, silences_gen;
    int hello_sent;
    int64_t last_write_ms;
    sb_t out;
    size_t off;
    redisContext *rc; /* for catching up from the log; opened on need */
} stream_t;

/* Appends the log entries from s->next_seq up to before `upto` (0: as far
 * as the log goes) that the viewer may see. Returns 0, or -1 (Redis). */
static int catch_up(stream_t *s, const sw_viewer_t *v, uint64_t upto)
{
    hub_web_t *h = s->h;
    char err[256];
    if (s->rc == NULL) {
        s->rc = redis(h, err, sizeof(err));
        if (s->rc == NULL)
            return -1;
    }
    redisReply *x = NULL;
    if (upto)
        x = cmdv(h, s->rc, err, sizeof(err),
                 "XRANGE %s %llu-1 (%llu-1 COUNT %d", h->k_stream,
                 (unsigned long long)s->next_seq, (unsigned long long)upto,
                 CATCHUP_COUNT);
    else
        x = cmdv(h, s->rc, err, sizeof(err), "XRANGE %s %llu-1 + COUNT %d",
                 h->k_stream, (unsigned long long)s->next_seq, CATCHUP_COUNT);
    if (x == NULL) {
        redisFree(s->rc);
        s->rc = NULL;
        return -1;
    }
    atomic_fetch_add(&h->m_catchup, 1);
    uint64_t next = s->next_seq;
    for (size_t i = 0; x->type == REDIS_REPLY_ARRAY && i < x->elements; i++) {
        sw_wire_alert_t w;
        memset(&w, 0, sizeof(w));
        const redisReply *e = x->element[i];
        if (e->type == REDIS_REPLY_ARRAY && e->elements == 2 &&
            e->element[0]->type == REDIS_REPLY_STRING) {
            uint64_t ms;
            uint64_t sq = sw_alert_log_id_parse(e->element[0]->str, &ms);
            if (sq >= next)
                next = sq + 1;
        }
        if (entry_alert(e, &w) || !visible(v, w.a.section))
            continue;
        char json[SW_WIRE_JSON_MAX];
        size_t jl = sw_wire_alert_to_json(&w, json, sizeof(json));
        if (jl == 0)
            continue;
        sb_printf(&s->out, "id: %" PRIu64 "\nevent: alert\ndata: ", w.seq);
        sb_add(&s->out, json, jl);
        sb_puts(&s->out, "\n\n");
        atomic_fetch_add(&h->m_streamed, 1);
    }
    /* a range that held no published entry moves nothing on: stop at the
     * range's end so that the caller does not spin */
    if (upto && (x->type != REDIS_REPLY_ARRAY || x->elements < CATCHUP_COUNT))
        next = next > upto ? next : upto;
    freeReplyObject(x);
    s->next_seq = next;
    return 0;
}

/* Appends what the ring, the series updates and the silences hold for
 * the stream. Under vlock (read) and mu. Returns 1 when the stream is
 * older than the ring (*oldest: the ring's first seq), else 0. */
static int collect(stream_t *s, const sw_viewer_t *v, uint64_t *oldest)
{
    hub_web_t *h = s->h;
    uint64_t i = ring_find(h, s->next_seq, oldest);
    if (*oldest && s->next_seq < *oldest)
        return 1;
    if (*oldest == 0 && s->next_seq <= h->last_seq) {
        /* nothing in memory yet, but the log holds what is asked: the
         * hub started after it was written */
        *oldest = h->last_seq + 1;
        return 1;
    }
    for (; i < h->ring_total && s->out.n < 256 * 1024; i++) {
        const ring_ent_t *e = &h->ring[i % RING];
        if (visible(v, e->section)) {
            sb_add(&s->out, e->frame, e->len);
            atomic_fetch_add(&h->m_streamed, 1);
        }
        s->next_seq = e->seq + 1;
    }
    uint64_t slo =
        h->series_gen > SERIES_RING ? h->series_gen - SERIES_RING : 0;
    if (s->series_gen < slo)
        s->series_gen = slo;
    for (; s->series_gen < h->series_gen; s->series_gen++) {
        const series_ent_t *e = &h->series[s->series_gen % SERIES_RING];
        if (e->frame && visible(v, e->section))
            sb_add(&s->out, e->frame, e->len);
    }
    if (s->silences_gen != h->silences_gen) {
        s->silences_gen = h->silences_gen;
        sb_puts(&s->out, "event: silences\ndata: [");
        int first = 1;
        for (size_t k = 0; k < h->nsilences; k++) {
            if (!silence_visible(v, h->silences[k].pattern))
                continue;
            if (!first)
                sb_puts(&s->out, ",");
            first = 0;
            sb_puts(&s->out, h->silences[k].json);
        }
        sb_puts(&s->out, "]\n\n");
    }
    return 0;
}

/* Fills s->out with what there is for the stream; when there is nothing,
 * waits up to 1 s for something and looks once more. Returns 0, or -1
 * when the stream must end (stopping, viewer gone, Redis failed while
 * catching up). */
static int stream_fill(stream_t *s)
{
    hub_web_t *h = s->h;
    int rc = 0;
    for (int round = 0; round < 2 && rc == 0; round++) {
        pthread_rwlock_rdlock(&h->vlock);
        const sw_viewer_t *v = h->viewers
                                   ? sw_viewers_find_name(h->viewers, s->viewer)
                                   : &anonymous;
        if (v == NULL) {
            pthread_rwlock_unlock(&h->vlock);
            return -1; /* removed from the viewers file */
        }
        pthread_mutex_lock(&h->mu);
        if (!s->hello_sent) {
            sb_printf(&s->out,
                      "retry: 2000\nevent: hello\ndata: {\"seq\":%" PRIu64
                      ",\"hub\":",
                      h->last_seq);
            sb_str(&s->out, h->hub_name);
            sb_puts(&s->out, "}\n\n");
            s->hello_sent = 1;
        }
        uint64_t oldest = 0;
        int behind = collect(s, v, &oldest);
        if (h->stopping)
            rc = -1;
        pthread_mutex_unlock(&h->mu);
        if (behind && rc == 0) {
            /* older than the ring: from the log, up to the ring */
            rc = catch_up(s, v, oldest);
            round = 0;
        }
        pthread_rwlock_unlock(&h->vlock);
        if (rc || s->out.n || behind)
            break;
        if (round == 0) {
            pthread_mutex_lock(&h->mu);
            if (!h->stopping) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_sec += 1;
                pthread_cond_timedwait(&h->cv, &h->mu, &ts);
            }
            pthread_mutex_unlock(&h->mu);
        }
    }
    int64_t now = sw_clock_now_ms();
    if (rc == 0 && s->out.n == 0 && now - s->last_write_ms >= HB_MS)
        sb_puts(&s->out, ": keep-alive\n\n");
    if (s->out.oom)
        return -1;
    return rc;
}

/* 1 when the viewer has closed the connection: an event stream's client
 * sends nothing after its request, so readable means end of file (or a
 * reset). */
static int peer_gone(int fd)
{
    if (fd < 0)
        return 0;
    struct pollfd p = {fd, POLLIN | POLLRDHUP, 0};
    if (poll(&p, 1, 0) <= 0)
        return 0;
    if (p.revents & (POLLRDHUP | POLLHUP | POLLERR))
        return 1;
    char x;
    ssize_t n = recv(fd, &x, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    stream_t *s = cls;
    /* a thread per connection: waiting here holds only this stream */
    for (int spins = 0; s->off >= s->out.n; spins++) {
        if (peer_gone(s->fd))
            return MHD_CONTENT_READER_END_WITH_ERROR;
        s->out.n = 0;
        s->off = 0;
        if (stream_fill(s))
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (s->out.n == 0 && spins > 30)
            return 0; /* MHD calls again */
    }
    size_t n = s->out.n - s->off;
    if (n > max)
        n = max;
    memcpy(buf, s->out.p + s->off, n);
    s->off += n;
    s->last_write_ms = sw_clock_now_ms();
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    stream_t *s = cls;
    atomic_fetch_sub(&s->h->m_streams_open, 1);
    if (s->rc)
        redisFree(s->rc);
    free(s->out.p);
    free(s);
}

/* A sequence number: 1..2^62 in decimal digits only. Returns 0 or -1. */
static int seq_parse(const char *s, unsigned long long *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > 19 || strspn(s, "0123456789") != n)
        return -1;
    errno = 0;
    unsigned long long x = strtoull(s, NULL, 10);
    if (errno || x > (1ULL << 62))
        return -1;
    *out = x;
    return 0;
}

static enum MHD_Result api_events(hub_web_t *h, struct MHD_Connection *c,
                                  const sw_viewer_t *v)
{
    const char *last =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
    const char *from =
        MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "from");
    unsigned long long next = 0;
    if (last && *last) {
        if (seq_parse(last, &next))
            return error_reply(h, c, 400,
                               "Last-Event-ID: '%.40s' is not a sequence "
                               "number (accepted: 0 or more, decimal)",
                               last);
        next++;
    } else if (from && *from) {
        if (seq_parse(from, &next) || next == 0)
            return error_reply(h, c, 400,
                               "from: '%.40s' is not a sequence number "
                               "(accepted: 1 or more, decimal)",
                               from);
    }
    stream_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return error_reply(h, c, 500, "out of memory");
    s->h = h;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    s->fd = ci ? ci->connect_fd : -1;
    snprintf(s->viewer, sizeof(s->viewer), "%s", v->acl.name);
    pthread_mutex_lock(&h->mu);
    s->next_seq = next ? next : h->last_seq + 1;
    s->series_gen = h->series_gen;
    s->silences_gen = h->silences_gen;
    pthread_mutex_unlock(&h->mu);
    s->last_write_ms = sw_clock_now_ms();
    struct MHD_Response *r = MHD_create_response_from_callback(
        MHD_SIZE_UNKNOWN, 16 * 1024, stream_read, s, stream_free);
    if (r == NULL) {
        free(s);
        return MHD_NO;
    }
    atomic_fetch_add(&h->m_streams_open, 1);
    atomic_fetch_add(&h->m_streams_total, 1);
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

/* ------------------------------------------------------------ routing */

static enum MHD_Result handle(void *cls, struct MHD_Connection *c,
                              const char *url, const char *method,
                              const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    (void)version;
    (void)upload;
    hub_web_t *h = cls;
    if (*con_cls == NULL) {
        static int marker;
        *con_cls = &marker;
        if (*upload_size == 0 && strcmp(method, "POST") != 0)
            goto go;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0; /* a body is not read: 405 below */
        return MHD_YES;
    }
go:
    atomic_fetch_add(&h->m_requests, 1);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return error_reply(h, c, 405, "method %s (accepted: GET, HEAD)",
                           method);
    int page = strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0;
    if (page) {
        const char *t =
            MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
        if (t && h->viewers) {
            pthread_rwlock_rdlock(&h->vlock);
            const sw_viewer_t *v = viewer_of(h, t, strlen(t));
            pthread_rwlock_unlock(&h->vlock);
            if (v == NULL) {
                atomic_fetch_add(&h->m_denied, 1);
                return respond(c, 401, "text/html; charset=utf-8", login_page,
                               sizeof(login_page) - 1, 0);
            }
            /* the cookie, and the token out of the address bar */
            char cookie[400];
            snprintf(cookie, sizeof(cookie),
                     "sw_token=%s; Path=/; HttpOnly; SameSite=Strict; "
                     "Max-Age=31536000",
                     t);
            struct MHD_Response *r = MHD_create_response_from_buffer(
                0, (void *)"", MHD_RESPMEM_PERSISTENT);
            if (r == NULL)
                return MHD_NO;
            const char *wall =
                MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "wall");
            MHD_add_response_header(r, "Set-Cookie", cookie);
            MHD_add_response_header(r, "Location", wall ? "./?wall=1" : "./");
            MHD_add_response_header(r, "Cache-Control", "no-store");
            enum MHD_Result ret = MHD_queue_response(c, 303, r);
            MHD_destroy_response(r);
            return ret;
        }
    }
    int api = strncmp(url, "/api/", 5) == 0;
    if (!page && !api)
        return error_reply(h, c, 404,
                           "no such page: %.100s (accepted: /, /api/state, "
                           "/api/events, /api/section, /api/preview)",
                           url);
    size_t tl = 0;
    const char *tok = request_token(c, &tl);
    pthread_rwlock_rdlock(&h->vlock);
    const sw_viewer_t *v = viewer_of(h, tok, tl);
    enum MHD_Result ret;
    if (v == NULL) {
        pthread_rwlock_unlock(&h->vlock);
        if (page) {
            atomic_fetch_add(&h->m_denied, 1);
            return respond(c, 401, "text/html; charset=utf-8", login_page,
                           sizeof(login_page) - 1, 0);
        }
        return error_reply(h, c, 401,
                           "no valid token (accepted: 'Authorization: Bearer "
                           "TOKEN', the sw_token cookie, or /?token=TOKEN)");
    }
    if (page) {
        ret = respond(c, 200, "text/html; charset=utf-8", sw_web_page,
                      sw_web_page_len, 0);
    } else if (strcmp(url, "/api/state") == 0) {
        ret = api_state(h, c, v);
    } else if (strcmp(url, "/api/events") == 0) {
        ret = api_events(h, c, v);
    } else if (strcmp(url, "/api/section") == 0) {
        ret = api_section(h, c, v);
    } else if (strcmp(url, "/api/preview") == 0) {
        ret = api_preview(h, c, v);
    } else {
        ret = error_reply(h, c, 404,
                          "no such API: %.100s (accepted: /api/state, "
                          "/api/events, /api/section, /api/preview)",
                          url);
    }
    pthread_rwlock_unlock(&h->vlock);
    return ret;
}

/* ----------------------------------------------------------- follower */

static void put_series(hub_web_t *h, const char *section, const char *member)
{
    sb_t b = {0};
    sb_puts(&b, "event: series\ndata: {\"section\":");
    sb_str(&b, section);
    sb_puts(&b, ",\"bucket\":");
    sb_member(&b, member);
    sb_puts(&b, "}\n\n");
    if (b.oom) {
        free(b.p);
        return;
    }
    pthread_mutex_lock(&h->mu);
    series_ent_t *e = &h->series[h->series_gen % SERIES_RING];
    free(e->frame);
    e->gen = h->series_gen;
    snprintf(e->section, sizeof(e->section), "%s", section);
    e->frame = b.p;
    e->len = b.n;
    h->series_gen++;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

/* The sections of a series notification: the latest two buckets of each
 * (a late event may have changed the one before). */
static void on_series(hub_web_t *h, redisContext *rc, const char *payload)
{
    char buf[8192];
    snprintf(buf, sizeof(buf), "%s", payload);
    char *save = NULL;
    size_t n = 0;
    char *secs[512];
    for (char *s = strtok_r(buf, " ", &save); s && n < 512;
         s = strtok_r(NULL, " ", &save))
        if (sw_section_valid(s, strlen(s))) {
            secs[n++] = s;
            redisAppendCommand(rc, "ZRANGE %s:series:%s -2 -1", h->prefix, s);
        }
    for (size_t i = 0; i < n; i++) {
        redisReply *z = NULL;
        if (redisGetReply(rc, (void **)&z) != REDIS_OK || z == NULL)
            return;
        for (size_t j = 0; z->type == REDIS_REPLY_ARRAY && j < z->elements; j++)
            if (z->element[j]->type == REDIS_REPLY_STRING)
                put_series(h, secs[i], z->element[j]->str);
        freeReplyObject(z);
    }
}

/* A stored silence (the JSON of sw_alert_log's silence script: times in
 * ms) as the web view's SILENCE, times in RFC 3339. Returns 0 or -1. */
static int silence_json(const char *stored, silence_t *out)
{
    char e[128];
    yajl_val o = yajl_tree_parse(stored, e, sizeof(e));
    if (o == NULL || !YAJL_IS_OBJECT(o)) {
        yajl_tree_free(o);
        return -1;
    }
    static const char *const strs[] = {"id", "sections", "detector", "reason",
                                       "created_by"};
    static const char *const times[] = {"until", "created"};
    sb_t b = {0};
    sb_puts(&b, "{");
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        const char *path[] = {strs[i], NULL};
        yajl_val v = yajl_tree_get(o, path, yajl_t_string);
        sb_printf(&b, "%s\"%s\":", i ? "," : "", strs[i]);
        if (v)
            sb_str(&b, YAJL_GET_STRING(v));
        else
            sb_puts(&b, "null");
        if (v && i == 1)
            snprintf(out->pattern, sizeof(out->pattern), "%s",
                     YAJL_GET_STRING(v));
    }
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        const char *path[] = {times[i], NULL};
        yajl_val v = yajl_tree_get(o, path, yajl_t_number);
        char ts[SW_TIME_STR_MAX];
        if (v && YAJL_IS_INTEGER(v))
            sb_printf(&b, ",\"%s\":\"%s\"", times[i],
                      sw_time_format(YAJL_GET_INTEGER(v), ts));
        else
            sb_printf(&b, ",\"%s\":null", times[i]);
    }
    sb_puts(&b, "}");
    yajl_tree_free(o);
    if (b.oom || out->pattern[0] == '\0') {
        free(b.p);
        return -1;
    }
    out->json = b.p;
    return 0;
}

/* The active silences, when they changed. */
static int refresh_silences(hub_web_t *h, redisContext *rc, char *err,
                            size_t errsz)
{
    redisReply *ids =
        cmdv(h, rc, err, errsz, "ZRANGEBYSCORE %s %" PRId64 " +inf",
             h->k_sil_active, sw_clock_now_ms());
    if (ids == NULL)
        return -1;
    silence_t *sv = calloc(ids->elements + 1, sizeof(*sv));
    size_t n = 0;
    for (size_t i = 0;
         sv && ids->type == REDIS_REPLY_ARRAY && i < ids->elements; i++) {
        redisReply *j = cmdv(h, rc, err, errsz, "HGET %s %s", h->k_sil,
                             ids->element[i]->str);
        if (j == NULL)
            break;
        if (j->type == REDIS_REPLY_STRING && silence_json(j->str, &sv[n]) == 0)
            n++;
        freeReplyObject(j);
    }
    freeReplyObject(ids);
    if (sv == NULL)
        return -1;
    pthread_mutex_lock(&h->mu);
    int same = n == h->nsilences;
    for (size_t i = 0; same && i < n; i++)
        same = strcmp(sv[i].json, h->silences[i].json) == 0;
    silence_t *old = sv;
    size_t nold = n;
    if (!same) {
        old = h->silences;
        nold = h->nsilences;
        h->silences = sv;
        h->nsilences = n;
        h->silences_gen++;
        pthread_cond_broadcast(&h->cv);
    }
    pthread_mutex_unlock(&h->mu);
    for (size_t i = 0; i < nold; i++)
        free(old[i].json);
    free(old);
    return 0;
}

static int stopping(hub_web_t *h)
{
    pthread_mutex_lock(&h->mu);
    int s = h->stopping;
    pthread_mutex_unlock(&h->mu);
    return s;
}

static void *follow_main(void *arg)
{
    hub_web_t *h = arg;
    redisContext *sub = NULL, *rc = NULL;
    char err[512];
    int64_t last_sil = 0, logged = 0;
    while (!stopping(h)) {
        if (sub == NULL || rc == NULL) {
            if (sub)
                redisFree(sub);
            if (rc)
                redisFree(rc);
            sub = redis(h, err, sizeof(err));
            rc = sub ? redis(h, err, sizeof(err)) : NULL;
            redisReply *r =
                rc ? redisCommand(sub, "SUBSCRIBE %s", h->k_series_chan) : NULL;
            if (r == NULL) {
                if (sw_clock_now_ms() - logged > 10000) {
                    SW_WARN(MOD, "Redis: %s; retrying",
                            sub && sub->err ? sub->errstr : err);
                    logged = sw_clock_now_ms();
                }
                if (sub)
                    redisFree(sub);
                if (rc)
                    redisFree(rc);
                sub = rc = NULL;
                for (int i = 0; i < 10 && !stopping(h); i++)
                    usleep(100000);
                continue;
            }
            freeReplyObject(r);
        }
        int64_t now = sw_clock_now_ms();
        if (now - last_sil >= 1000) {
            last_sil = now;
            if (refresh_silences(h, rc, err, sizeof(err))) {
                redisFree(rc);
                rc = NULL;
                continue;
            }
        }
        struct pollfd pfd = {sub->fd, POLLIN, 0};
        int pr = poll(&pfd, 1, 500);
        if (pr < 0 && errno != EINTR)
            break;
        if (pr <= 0)
            continue;
        if (redisBufferRead(sub) != REDIS_OK) {
            redisFree(sub);
            sub = NULL;
            continue;
        }
        void *reply = NULL;
        while (redisGetReplyFromReader(sub, &reply) == REDIS_OK && reply) {
            redisReply *m = reply;
            if (m->type == REDIS_REPLY_ARRAY && m->elements == 3 &&
                m->element[2]->type == REDIS_REPLY_STRING)
                on_series(h, rc, m->element[2]->str);
            freeReplyObject(m);
            reply = NULL;
        }
    }
    if (sub)
        redisFree(sub);
    if (rc)
        redisFree(rc);
    return NULL;
}

/* ---------------------------------------------------------- lifecycle */

int hub_web_reload(hub_web_t *self, char *errstr, size_t errstr_size)
{
    if (self->viewers_path[0] == '\0')
        return 0;
    sw_viewers_t *v = sw_viewers_load(self->viewers_path, errstr, errstr_size);
    if (v == NULL)
        return -1;
    pthread_rwlock_wrlock(&self->vlock);
    sw_viewers_t *old = self->viewers;
    self->viewers = v;
    pthread_rwlock_unlock(&self->vlock);
    sw_viewers_free(&old);
    return 0;
}

size_t hub_web_viewers(hub_web_t *self)
{
    pthread_rwlock_rdlock(&self->vlock);
    size_t n = self->viewers ? self->viewers->n : 0;
    pthread_rwlock_unlock(&self->vlock);
    return n;
}

hub_web_t *hub_web_start(const hub_web_conf_t *conf, char *errstr,
                         size_t errstr_size)
{
    struct sockaddr_in sa;
    if (sw_http_parse_listen(conf->listen, &sa, errstr, errstr_size))
        return NULL;
    hub_web_t *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    snprintf(h->listen, sizeof(h->listen), "%s", conf->listen);
    snprintf(h->viewers_path, sizeof(h->viewers_path), "%s",
             conf->viewers_path ? conf->viewers_path : "");
    snprintf(h->redis_url, sizeof(h->redis_url), "%s", conf->redis_url);
    snprintf(h->prefix, sizeof(h->prefix), "%.64s", conf->prefix);
    snprintf(h->hub_name, sizeof(h->hub_name), "%s", conf->hub_name);
    h->redis_timeout_ms = conf->redis_timeout_ms;
    snprintf(h->k_stream, sizeof(h->k_stream), "%s:alerts", h->prefix);
    snprintf(h->k_seq, sizeof(h->k_seq), "%s:alerts:seq", h->prefix);
    snprintf(h->k_active, sizeof(h->k_active), "%s:alerts:active", h->prefix);
    snprintf(h->k_last, sizeof(h->k_last), "%s:alerts:last", h->prefix);
    snprintf(h->k_series_meta, sizeof(h->k_series_meta), "%s:series:meta",
             h->prefix);
    snprintf(h->k_series_chan, sizeof(h->k_series_chan), "%s:series",
             h->prefix);
    snprintf(h->k_sil, sizeof(h->k_sil), "%s:silences", h->prefix);
    snprintf(h->k_sil_active, sizeof(h->k_sil_active), "%s:silences:active",
             h->prefix);
    sw_th_keys_init(&h->th, h->prefix);
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    /* writers first: a SIGHUP reload must not wait behind the streams */
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra,
                                  PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&h->vlock, &ra);
    pthread_rwlockattr_destroy(&ra);
    if (hub_web_reload(h, errstr, errstr_size)) {
        hub_web_stop(&h);
        return NULL;
    }
    h->d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0,
        NULL, NULL, handle, h, MHD_OPTION_SOCK_ADDR, &sa,
        MHD_OPTION_CONNECTION_LIMIT, 1024u, MHD_OPTION_CONNECTION_TIMEOUT, 120u,
        MHD_OPTION_THREAD_STACK_SIZE, (size_t)(512 * 1024), MHD_OPTION_END);
    if (h->d == NULL) {
        snprintf(errstr, errstr_size,
                 "cannot listen on %s (address in use, or not an address of "
                 "this machine)",
                 conf->listen);
        hub_web_stop(&h);
        return NULL;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : (int)ntohs(sa.sin_port);
    if (pthread_create(&h->follow_t, NULL, follow_main, h) == 0)
        h->follow_started = 1;
    return h;
}

int hub_web_port(const hub_web_t *self)
{
    return self->port;
}

void hub_web_stats(hub_web_t *self, hub_web_stats_t *out)
{
    out->requests = atomic_load(&self->m_requests);
    out->denied = atomic_load(&self->m_denied);
    out->bad_requests = atomic_load(&self->m_bad);
    out->streams_open = atomic_load(&self->m_streams_open);
    out->streams_total = atomic_load(&self->m_streams_total);
    out->streamed_alerts = atomic_load(&self->m_streamed);
    out->catchup_reads = atomic_load(&self->m_catchup);
    out->redis_errors = atomic_load(&self->m_redis_errors);
}

void hub_web_stop(hub_web_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    hub_web_t *h = *self_p;
    pthread_mutex_lock(&h->mu);
    h->stopping = 1;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    /* the streams end themselves (a last chunk: a clean end for the
     * browsers, which reconnect elsewhere) before the sockets close */
    for (int i = 0; i < 150 && atomic_load(&h->m_streams_open) > 0; i++)
        usleep(20000);
    if (h->d)
        MHD_stop_daemon(h->d);
    if (h->follow_started)
        pthread_join(h->follow_t, NULL);
    for (size_t i = 0; i < RING; i++)
        free(h->ring[i].frame);
    for (size_t i = 0; i < SERIES_RING; i++)
        free(h->series[i].frame);
    for (size_t i = 0; i < h->nsilences; i++)
        free(h->silences[i].json);
    free(h->silences);
    sw_viewers_free(&h->viewers);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    pthread_rwlock_destroy(&h->vlock);
    free(h);
    *self_p = NULL;
}
