/*
 * sw_lines: a buffered line reader over a file descriptor. Lines are handed
 * out as pointers into its own buffer (valid until the next call), so
 * reading allocates nothing per line. Over-long lines are skipped and
 * reported, never truncated into a different line.
 */
#ifndef SW_LINES_H
#define SW_LINES_H

#include <stddef.h>
#include <stdint.h>

typedef struct sw_lines {
    int fd;
    char *buf;
    size_t cap, start, end;
    size_t max_line;
    int eof;
    uint64_t lineno; /* number of the line last returned, from 1 */
    uint64_t bytes;  /* bytes consumed so far */
    /* called (when set) just before each read of the descriptor, which
     * may block: a reader that batches lines hands over what it has */
    void (*before_read)(void *opaque);
    void *opaque;
} sw_lines_t;

/* Prepares a reader on fd (not owned: the caller closes it). Lines longer
 * than max_line bytes are skipped. Returns 0, or SW_ERR_NOMEM. */
int sw_lines_init(sw_lines_t *self, int fd, size_t max_line);

/* Frees the buffer. Safe on a zeroed or already released reader. */
void sw_lines_deinit(sw_lines_t *self);

/* Returns the next line without its "\n" or "\r\n": 1 with *line and *len set,
 * 0 at end of input, SW_ERR_RANGE when the line was longer than max_line
 * (it has been skipped; *len holds the bytes seen, lineno counts it), or
 * SW_ERR_IO on a read error (errno is kept). */
int sw_lines_next(sw_lines_t *self, const char **line, size_t *len);

#endif
