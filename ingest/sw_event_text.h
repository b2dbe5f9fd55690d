/*
 * sw_event_text: events from text lines, as the national centres write them.
 *
 *  - JSON lines: one object per line with the keys of the event contract;
 *    "ts" is integer epoch milliseconds or an RFC 3339 string. Parsed with
 *    yajl's event (SAX) interface straight into an sw_event_t: no tree, no
 *    allocation per line.
 *  - CSV: a header row naming the columns (any order, the contract's key
 *    names), then one event per row; empty cells are absent optional fields.
 *    Parsed with libcsv. A record may not span lines (no field of the
 *    contract may hold a newline).
 *
 * Both validate with the rules of sw_event.h and report through
 * sw_event_err_t. A decoder object belongs to one thread.
 */
#ifndef SW_EVENT_TEXT_H
#define SW_EVENT_TEXT_H

#include "sw_event.h"

#include <stddef.h>
#include <stdint.h>

typedef struct sw_json_decoder sw_json_decoder_t;
typedef struct sw_csv_decoder sw_csv_decoder_t;

/* Returns a new JSON line decoder, or NULL when out of memory. */
sw_json_decoder_t *sw_json_decoder_new(void);

/* Frees the decoder (NULL is fine) and sets *self_p to NULL. */
void sw_json_decoder_destroy(sw_json_decoder_t **self_p);

/* Decodes one JSON object from line[0..len) (no newline; leading and
 * trailing white space allowed). Returns 0 with *ev filled, or -1 with err
 * filled: not JSON (undecodable), cut short (truncated), more than one
 * value on the line (trailing_bytes), not an object, nested values, and
 * every field rule. now_ms is the clock for the future-time rule. */
int sw_json_decode_line(sw_json_decoder_t *self, const char *line, size_t len,
                        int64_t now_ms, sw_event_t *ev, sw_event_err_t *err);

/* Returns a new CSV decoder, or NULL when out of memory. It needs its
 * header row (sw_csv_decoder_header) before any event row. */
sw_csv_decoder_t *sw_csv_decoder_new(void);

/* Frees the decoder (NULL is fine) and sets *self_p to NULL. */
void sw_csv_decoder_destroy(sw_csv_decoder_t **self_p);

/* Reads the header row. A leading UTF-8 byte order mark is skipped. Returns
 * 0, or -1 with err filled: an unknown or repeated column name, or a
 * required column missing. */
int sw_csv_decoder_header(sw_csv_decoder_t *self, const char *line, size_t len,
                          sw_event_err_t *err);

/* Decodes one CSV row. Returns 0 with *ev filled, or -1 with err filled
 * (malformed quoting, wrong column count, non-numeric numbers, every field
 * rule). */
int sw_csv_decode_line(sw_csv_decoder_t *self, const char *line, size_t len,
                       int64_t now_ms, sw_event_t *ev, sw_event_err_t *err);

/* Text formats of an input. */
typedef enum {
    SW_FORMAT_JSON,
    SW_FORMAT_CSV,
} sw_text_format_t;

#endif
