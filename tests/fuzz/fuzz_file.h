/*
 * The input of a fuzz target as a file, for parsers that take a path
 * (sw_config_load, sw_acl_load, sw_viewers_load, ...): one memfd per
 * process, rewritten for every input and named by /proc/self/fd/N, so that
 * nothing touches the disk and nothing is left behind. Falls back to a
 * temporary file (removed at exit) where memfd_create is missing.
 */
#ifndef FUZZ_FILE_H
#define FUZZ_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static char fuzz_file_tmp[64];

static void fuzz_file_cleanup(void)
{
    if (fuzz_file_tmp[0])
        unlink(fuzz_file_tmp);
}

/* Writes data[0..size) as the whole file and returns its path (static
 * storage), or NULL when no file could be made. */
static const char *fuzz_file_write(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("fuzz-input", 0);
        if (fd >= 0) {
            snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        } else {
            const char *dir = getenv("TMPDIR");
            snprintf(fuzz_file_tmp, sizeof(fuzz_file_tmp), "%s/fuzz-in.XXXXXX",
                     dir && strlen(dir) < 40 ? dir : "/tmp");
            fd = mkstemp(fuzz_file_tmp);
            if (fd < 0)
                return NULL;
            atexit(fuzz_file_cleanup);
            snprintf(path, sizeof(path), "%s", fuzz_file_tmp);
        }
    }
    if (ftruncate(fd, 0) != 0)
        return NULL;
    size_t off = 0;
    while (off < size) {
        ssize_t n = pwrite(fd, data + off, size - off, (off_t)off);
        if (n <= 0)
            return NULL;
        off += (size_t)n;
    }
    return path;
}

#endif
