/*
 * Fuzz target: sw_event_decode_msgpack on arbitrary bytes, with the
 * round-trip oracle (fuzz_event_oracle.h) on every accepted event.
 */
#include "fuzz_event_oracle.h"
#include "sw_event.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* exact-size heap copy: one byte of over-read is a report */
    uint8_t *buf = malloc(size ? size : 1);
    if (buf == NULL)
        return 0;
    if (size)
        memcpy(buf, data, size);

    sw_event_t ev;
    sw_event_err_t err;
    memset(&ev, 0xa5, sizeof(ev));
    memset(&err, 0xa5, sizeof(err));
    if (sw_event_decode_msgpack(buf, size, FUZZ_NOW_MS, &ev, &err) == 0)
        fuzz_round_trip(&ev);
    else
        fuzz_check_err(&err);
    free(buf);
    return 0;
}
