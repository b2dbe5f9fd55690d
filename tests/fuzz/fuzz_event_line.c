/*
 * Fuzz target: the text decoders of sw_event_text.h. The first byte selects
 * the format (even: JSON lines, odd: CSV); the rest is split into lines on
 * '\n'. All lines of an input go to one decoder, so the state it carries
 * from line to line (after errors too) is exercised. For CSV the first line
 * is the header row. Every accepted event goes through the round-trip
 * oracle (fuzz_event_oracle.h).
 */
#include "fuzz_event_oracle.h"
#include "sw_event.h"
#include "sw_event_text.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Returns an exact-size heap copy of s[0..len) (never NULL for len 0), so
 * that one byte of over-read is a report. */
static char *exact_copy(const uint8_t *s, size_t len)
{
    char *p = malloc(len ? len : 1);
    if (p != NULL && len)
        memcpy(p, s, len);
    return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int csv = data[0] & 1;
    const uint8_t *p = data + 1, *end = data + size;

    sw_json_decoder_t *json = NULL;
    sw_csv_decoder_t *dec = NULL;
    if (csv)
        dec = sw_csv_decoder_new();
    else
        json = sw_json_decoder_new();
    if (json == NULL && dec == NULL)
        return 0;

    int first = 1;
    unsigned lineno = 0;
    for (;;) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)((nl ? nl : end) - p);
        char *line = exact_copy(p, len);
        if (line == NULL)
            break;

        sw_event_t ev;
        sw_event_err_t err;
        /* garbage in the caller's structs, different on every line */
        memset(&ev, (lineno & 1) ? 0xa5 : 0x5a, sizeof(ev));
        memset(&err, 0xa5, sizeof(err));
        int rc;
        if (csv && first) {
            rc = sw_csv_decoder_header(dec, line, len, &err);
            if (rc != 0)
                fuzz_check_err(&err);
        } else {
            rc =
                csv ? sw_csv_decode_line(dec, line, len, FUZZ_NOW_MS, &ev, &err)
                    : sw_json_decode_line(json, line, len, FUZZ_NOW_MS, &ev,
                                          &err);
            if (rc == 0)
                fuzz_round_trip(&ev);
            else
                fuzz_check_err(&err);
        }
        free(line);
        first = 0;
        lineno++;
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    sw_json_decoder_destroy(&json);
    sw_csv_decoder_destroy(&dec);
    return 0;
}
