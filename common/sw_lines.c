/* sw_lines: buffered reading of newline-terminated lines from an fd. */
#include "sw_lines.h"
#include "sw_err.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int sw_lines_init(sw_lines_t *self, int fd, size_t max_line)
{
    memset(self, 0, sizeof(*self));
    self->fd = fd;
    self->max_line = max_line;
    self->cap = max_line + 1 < (1u << 20) ? (1u << 20) : 2 * (max_line + 1);
    self->buf = malloc(self->cap);
    return self->buf ? 0 : SW_ERR_NOMEM;
}

void sw_lines_deinit(sw_lines_t *self)
{
    free(self->buf);
    self->buf = NULL;
}

/* Moves unread bytes to the front and reads more. Returns bytes read,
 * 0 at end of input, or -1 on error. */
static ssize_t fill(sw_lines_t *self)
{
    if (self->start > 0) {
        memmove(self->buf, self->buf + self->start, self->end - self->start);
        self->end -= self->start;
        self->start = 0;
    }
    if (self->end == self->cap)
        return -2; /* full: caller handles */
    for (;;) {
        ssize_t n =
            read(self->fd, self->buf + self->end, self->cap - self->end);
        if (n < 0 && errno == EINTR)
            continue;
        if (n > 0)
            self->end += (size_t)n;
        return n;
    }
}

int sw_lines_next(sw_lines_t *self, const char **line, size_t *len)
{
    size_t scanned = 0; /* bytes of the current line already searched */
    size_t skipped = 0; /* bytes of an over-long line thrown away */
    for (;;) {
        char *p = self->buf + self->start;
        size_t avail = self->end - self->start;
        char *nl =
            avail > scanned ? memchr(p + scanned, '\n', avail - scanned) : NULL;
        if (nl != NULL) {
            size_t n = (size_t)(nl - p);
            self->start += n + 1;
            self->bytes += n + 1;
            self->lineno++;
            /* max_line counts the line without its "\r\n", as with "\n" */
            int cr = n > 0 && p[n - 1] == '\r';
            if (skipped > 0 || n - (size_t)cr > self->max_line) {
                *len = skipped + n;
                return SW_ERR_RANGE;
            }
            if (n > 0 && p[n - 1] == '\r')
                n--;
            *line = p;
            *len = n;
            return 1;
        }
        scanned = avail;
        if (self->eof) {
            if (avail == 0 && skipped == 0)
                return 0;
            /* a last line without a newline */
            self->start = self->end;
            self->bytes += avail;
            self->lineno++;
            int cr = avail > 0 && p[avail - 1] == '\r';
            if (skipped > 0 || avail - (size_t)cr > self->max_line) {
                *len = skipped + avail;
                return SW_ERR_RANGE;
            }
            if (avail > 0 && p[avail - 1] == '\r')
                avail--;
            *line = p;
            *len = avail;
            return 1;
        }
        if (avail > self->max_line + 1) {
            /* too long already (the byte past max_line may be the '\r' of
             * a "\r\n"): drop what we have, keep looking for '\n' */
            skipped += avail;
            self->bytes += avail;
            self->start = self->end;
            scanned = 0;
        }
        if (self->before_read)
            self->before_read(self->opaque);
        ssize_t n = fill(self);
        if (n == 0)
            self->eof = 1;
        else if (n == -1)
            return SW_ERR_IO;
    }
}
