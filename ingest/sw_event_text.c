/* sw_event_text: JSON lines (yajl) and CSV rows (libcsv) into sw_event_t. */
#include "sw_event_text.h"

#include <csv.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

/* ------------------------------------------------------------------ JSON */

struct sw_json_decoder {
    yajl_handle h;
    /* state of the line being decoded */
    sw_event_t *ev;
    sw_event_err_t *err;
    int depth;  /* 0 outside the object, 1 inside */
    int values; /* top-level values seen on this line */
    int field;  /* field of the current key */
    int failed; /* a callback filled err */
};

static int j_top_level(sw_json_decoder_t *d, const char *what)
{
    d->failed = 1;
    if (d->values > 0)
        return !sw_event_fail(d->err, SW_REASON_TRAILING_BYTES, -1,
                              "more than one JSON value on the line");
    return !sw_event_fail(d->err, SW_REASON_NOT_A_MAP, -1,
                          "the line holds %s, not a JSON object", what);
}

/* yajl callbacks return 1 to go on, 0 to stop the parse. */
static int j_done(sw_json_decoder_t *d, int rc)
{
    if (rc) {
        d->failed = 1;
        return 0;
    }
    return 1;
}

static int j_null(void *ctx)
{
    sw_json_decoder_t *d = ctx;
    if (d->depth == 0)
        return j_top_level(d, "null");
    return j_done(d, sw_event_set_null(d->ev, (sw_field_t)d->field, d->err));
}

static int j_bool(void *ctx, int v)
{
    sw_json_decoder_t *d = ctx;
    (void)v;
    if (d->depth == 0)
        return j_top_level(d, "a boolean");
    return j_done(d, sw_event_set_wrong_type(d->ev, (sw_field_t)d->field,
                                             "a boolean", d->err));
}

static int j_int(void *ctx, long long v)
{
    sw_json_decoder_t *d = ctx;
    if (d->depth == 0)
        return j_top_level(d, "a number");
    return j_done(d, sw_event_set_int(d->ev, (sw_field_t)d->field, v, d->err));
}

static int j_double(void *ctx, double v)
{
    sw_json_decoder_t *d = ctx;
    if (d->depth == 0)
        return j_top_level(d, "a number");
    return j_done(d,
                  sw_event_set_double(d->ev, (sw_field_t)d->field, v, d->err));
}

static int j_string(void *ctx, const unsigned char *s, size_t len)
{
    sw_json_decoder_t *d = ctx;
    if (d->depth == 0)
        return j_top_level(d, "a string");
    return j_done(d, sw_event_set_str(d->ev, (sw_field_t)d->field,
                                      (const char *)s, len, 1, d->err));
}

static int j_start_map(void *ctx)
{
    sw_json_decoder_t *d = ctx;
    if (d->depth == 0) {
        if (d->values > 0)
            return j_top_level(d, "an object");
        d->depth = 1;
        d->values++;
        return 1;
    }
    d->failed = 1;
    return !sw_event_fail(d->err, SW_REASON_NESTED, d->field,
                          "is an object (accepted: a plain value)");
}

static int j_key(void *ctx, const unsigned char *s, size_t len)
{
    sw_json_decoder_t *d = ctx;
    d->field = sw_field_lookup((const char *)s, len);
    if (d->field < 0) {
        d->failed = 1;
        return !sw_event_fail(d->err, SW_REASON_UNKNOWN_FIELD, -1,
                              "unknown field \"%.*s\" (accepted: id, src, "
                              "section, ts, type, count, nat, bcp, lat, lon, "
                              "confidence)",
                              (int)(len > 32 ? 32 : len), (const char *)s);
    }
    return 1;
}

static int j_end_map(void *ctx)
{
    sw_json_decoder_t *d = ctx;
    d->depth = 0;
    return 1;
}

static int j_start_array(void *ctx)
{
    sw_json_decoder_t *d = ctx;
    if (d->depth == 0)
        return j_top_level(d, "an array");
    d->failed = 1;
    return !sw_event_fail(d->err, SW_REASON_NESTED, d->field,
                          "is an array (accepted: a plain value)");
}

static int j_end_array(void *ctx)
{
    (void)ctx;
    return 0; /* unreachable: every array start stops the parse */
}

static const yajl_callbacks json_callbacks = {
    j_null,      j_bool, j_int,     j_double,      NULL,        j_string,
    j_start_map, j_key,  j_end_map, j_start_array, j_end_array,
};

static int json_handle_open(sw_json_decoder_t *d)
{
    d->h = yajl_alloc(&json_callbacks, NULL, d);
    if (d->h == NULL)
        return -1;
    yajl_config(d->h, yajl_allow_multiple_values, 1);
    return 0;
}

sw_json_decoder_t *sw_json_decoder_new(void)
{
    sw_json_decoder_t *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return NULL;
    if (json_handle_open(d) != 0) {
        free(d);
        return NULL;
    }
    return d;
}

void sw_json_decoder_destroy(sw_json_decoder_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    if ((*self_p)->h)
        yajl_free((*self_p)->h);
    free(*self_p);
    *self_p = NULL;
}

/* After an error the yajl handle cannot go on: open a fresh one. */
static int json_fail(sw_json_decoder_t *d, const char *line, size_t len)
{
    if (!d->failed) {
        unsigned char *msg =
            yajl_get_error(d->h, 0, (const unsigned char *)line, len);
        size_t at = yajl_get_bytes_consumed(d->h);
        const char *m = msg ? (const char *)msg : "invalid JSON";
        sw_reason_t reason = SW_REASON_UNDECODABLE;
        if (strstr(m, "premature EOF"))
            reason = SW_REASON_TRUNCATED;
        else if (strstr(m, "UTF8"))
            reason = SW_REASON_BAD_UTF8;
        size_t mlen = strcspn(m, "\n");
        while (mlen > 0 && (m[mlen - 1] == '.' || m[mlen - 1] == ' '))
            mlen--;
        sw_event_fail(d->err, reason, -1, "not valid JSON: %.*s near byte %zu",
                      (int)mlen, m, at);
        if (msg)
            yajl_free_error(d->h, msg);
    }
    yajl_free(d->h);
    d->h = NULL;
    if (json_handle_open(d) != 0)
        d->h = NULL; /* next call reports out of memory */
    return -1;
}

int sw_json_decode_line(sw_json_decoder_t *self, const char *line, size_t len,
                        int64_t now_ms, sw_event_t *ev, sw_event_err_t *err)
{
    if (self->h == NULL && json_handle_open(self) != 0)
        return sw_event_fail(err, SW_REASON_UNDECODABLE, -1, "out of memory");
    self->ev = ev;
    self->err = err;
    self->depth = 0;
    self->values = 0;
    self->field = -1;
    self->failed = 0;
    sw_event_reset(ev);
    /* yajl calls a blank line "premature EOF" on a fresh handle but accepts
     * it after a complete value: decide here, whatever came before */
    size_t ws = 0;
    while (ws < len && (line[ws] == ' ' || line[ws] == '\t' ||
                        line[ws] == '\r' || line[ws] == '\n'))
        ws++;
    if (ws == len)
        return sw_event_fail(err, SW_REASON_UNDECODABLE, -1,
                             "the line holds no JSON value");
    yajl_status st = yajl_parse(self->h, (const unsigned char *)line, len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(self->h);
    if (st != yajl_status_ok)
        return json_fail(self, line, len);
    if (self->values == 0)
        return sw_event_fail(err, SW_REASON_UNDECODABLE, -1,
                             "the line holds no JSON value");
    return sw_event_finish(ev, now_ms, err);
}

/* ------------------------------------------------------------------- CSV */

#define CSV_MAX_COLS 16

struct sw_csv_decoder {
    struct csv_parser p;
    int ncols;
    int col_field[CSV_MAX_COLS];
    /* state of the row being decoded */
    int header; /* reading the header row */
    int col;
    int records;
    int failed;
    uint32_t header_seen;
    sw_event_t *ev;
    sw_event_err_t *err;
};

static const unsigned char csv_opts =
    CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL;

sw_csv_decoder_t *sw_csv_decoder_new(void)
{
    sw_csv_decoder_t *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return NULL;
    if (csv_init(&d->p, csv_opts) != 0) {
        free(d);
        return NULL;
    }
    return d;
}

void sw_csv_decoder_destroy(sw_csv_decoder_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    csv_free(&(*self_p)->p);
    free(*self_p);
    *self_p = NULL;
}

static void c_fail(sw_csv_decoder_t *d)
{
    d->failed = 1;
}

static void csv_header_cell(sw_csv_decoder_t *d, const char *s, size_t len)
{
    if (d->col >= CSV_MAX_COLS) {
        sw_event_fail(d->err, SW_REASON_TOO_MANY_FIELDS, -1,
                      "header has more than %d columns", CSV_MAX_COLS);
        return c_fail(d);
    }
    int f = sw_field_lookup(s, len);
    if (f < 0) {
        sw_event_fail(d->err, SW_REASON_UNKNOWN_FIELD, -1,
                      "unknown column \"%.*s\" in the header (accepted: id, "
                      "src, section, ts, type, count, nat, bcp, lat, lon, "
                      "confidence)",
                      (int)(len > 32 ? 32 : len), s);
        return c_fail(d);
    }
    if (d->header_seen & (1u << f)) {
        sw_event_fail(d->err, SW_REASON_DUPLICATE_FIELD, f,
                      "column appears twice in the header");
        return c_fail(d);
    }
    d->header_seen |= 1u << f;
    d->col_field[d->col] = f;
}

/* Parses a whole cell as a decimal integer. Returns 0 or -1. */
static int cell_int(const char *s, size_t len, int64_t *v)
{
    size_t i = 0;
    int neg = 0;
    if (len > 0 && (s[0] == '-' || s[0] == '+'))
        neg = s[i++] == '-';
    if (i == len || len - i > 18)
        return -1;
    int64_t x = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        x = x * 10 + (s[i] - '0');
    }
    *v = neg ? -x : x;
    return 0;
}

static void csv_cell(void *cell, size_t len, void *data)
{
    sw_csv_decoder_t *d = data;
    const char *s = cell;
    if (d->failed)
        return;
    if (d->header) {
        csv_header_cell(d, s, len);
        d->col++;
        return;
    }
    if (d->col >= d->ncols) {
        d->col++;
        return; /* counted and reported at the end of the record */
    }
    sw_field_t f = (sw_field_t)d->col_field[d->col++];
    sw_event_t *ev = d->ev;
    int rc = 0;
    int64_t iv;
    if (len == 0) {
        /* an empty cell: absent (an error for required fields, which
         * sw_event_finish reports as missing) */
        return;
    }
    switch (f) {
    case SW_F_TS:
        if (cell_int(s, len, &iv) == 0)
            rc = sw_event_set_int(ev, f, iv, d->err);
        else
            rc = sw_event_set_str(ev, f, s, len, 1, d->err);
        break;
    case SW_F_COUNT:
        if (cell_int(s, len, &iv) != 0)
            rc = sw_event_fail(d->err, SW_REASON_WRONG_TYPE, (int)f,
                               "\"%.*s\" is not an integer (accepted: 1..%d)",
                               (int)(len > 24 ? 24 : len), s,
                               SW_EVENT_COUNT_MAX);
        else
            rc = sw_event_set_int(ev, f, iv, d->err);
        break;
    case SW_F_LAT:
    case SW_F_LON:
    case SW_F_CONFIDENCE: {
        /* libcsv NUL-terminates cells (CSV_APPEND_NULL) */
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (end != s + len || errno == ERANGE || len > 40)
            rc = sw_event_fail(d->err, SW_REASON_WRONG_TYPE, (int)f,
                               "\"%.*s\" is not a number",
                               (int)(len > 24 ? 24 : len), s);
        else
            rc = sw_event_set_double(ev, f, v, d->err);
        break;
    }
    default:
        rc = sw_event_set_str(ev, f, s, len, 1, d->err);
        break;
    }
    if (rc)
        c_fail(d);
}

static void csv_record(int term, void *data)
{
    sw_csv_decoder_t *d = data;
    (void)term;
    d->records++;
    if (d->failed || d->header)
        return;
    if (d->col != d->ncols) {
        sw_event_fail(d->err, SW_REASON_UNDECODABLE, -1,
                      "row has %d column(s), the header has %d", d->col,
                      d->ncols);
        c_fail(d);
    }
}

/* Feeds one line to libcsv as one record. Returns 0 or -1 (err filled). */
static int csv_run(sw_csv_decoder_t *d, const char *line, size_t len)
{
    d->col = 0;
    d->records = 0;
    d->failed = 0;
    size_t n = csv_parse(&d->p, line, len, csv_cell, csv_record, d);
    int rc = n == len ? csv_fini(&d->p, csv_cell, csv_record, d) : -1;
    if (rc != 0) {
        if (!d->failed)
            sw_event_fail(d->err, SW_REASON_UNDECODABLE, -1,
                          "malformed CSV (%s) near byte %zu",
                          csv_strerror(csv_error(&d->p)), n);
        d->failed = 1;
        /* the parser is in an error state: start a fresh one */
        csv_free(&d->p);
        if (csv_init(&d->p, csv_opts) != 0)
            memset(&d->p, 0, sizeof(d->p));
        return -1;
    }
    if (d->failed)
        return -1;
    if (d->records > 1)
        return sw_event_fail(d->err, SW_REASON_UNDECODABLE, -1,
                             "more than one record on the line");
    return 0;
}

int sw_csv_decoder_header(sw_csv_decoder_t *self, const char *line, size_t len,
                          sw_event_err_t *err)
{
    if (len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0)
        line += 3, len -= 3;
    self->header = 1;
    self->header_seen = 0;
    /* col_field is overwritten as the row is read: until this header is
     * accepted there is none (never a mix of the old and the new one) */
    self->ncols = 0;
    self->err = err;
    int rc = csv_run(self, line, len);
    self->header = 0;
    if (rc)
        return -1;
    uint32_t missing = SW_FIELDS_REQUIRED & ~self->header_seen;
    if (missing)
        return sw_event_fail(err, SW_REASON_MISSING_FIELD,
                             __builtin_ctz(missing),
                             "column is missing from the header (required: "
                             "id, src, section, ts, type, count)");
    self->ncols = self->col;
    return 0;
}

int sw_csv_decode_line(sw_csv_decoder_t *self, const char *line, size_t len,
                       int64_t now_ms, sw_event_t *ev, sw_event_err_t *err)
{
    if (self->ncols == 0)
        return sw_event_fail(err, SW_REASON_UNDECODABLE, -1,
                             "no header row read yet");
    self->ev = ev;
    self->err = err;
    sw_event_reset(ev);
    if (csv_run(self, line, len))
        return -1;
    return sw_event_finish(ev, now_ms, err);
}
