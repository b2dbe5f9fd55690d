/*
 * Unit tests for sw_lines: the buffered line reader, over temporary files
 * and over pipes fed by a child process in uneven chunks.
 */
#include "sw_err.h"
#include "sw_lines.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define MIB ((size_t)1 << 20)

/* ------------------------------------------------------------- helpers */

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            _exit(99);
        p += w;
        n -= (size_t)w;
    }
}

/* A read-only fd on an unlinked temporary file holding data. */
static int file_with(const char *data, size_t len)
{
    char path[] = "/tmp/sw_test_lines_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    write_all(fd, data, len);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    return fd;
}

static pid_t writer_pid = -1; /* the child feeding a pipe */
static int pipe_fd = -1;      /* the read end it feeds */

/* The read end of a pipe; a child writes data in chunks of the given
 * sizes (cycled), pausing pause_us between them, then exits. */
static int pipe_with(const char *data, size_t len, const size_t *chunks,
                     size_t nchunks, unsigned pause_us)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        size_t off = 0;
        for (size_t i = 0; off < len; i++) {
            size_t n = chunks[i % nchunks];
            if (n > len - off)
                n = len - off;
            write_all(p[1], data + off, n);
            off += n;
            if (pause_us)
                usleep(pause_us);
        }
        close(p[1]);
        _exit(0);
    }
    close(p[1]);
    writer_pid = pid;
    pipe_fd = p[0];
    return p[0];
}

static void reap_writer(void)
{
    if (writer_pid > 0) {
        int st = 0;
        assert_int_equal(waitpid(writer_pid, &st, 0), writer_pid);
        writer_pid = -1;
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
}

/* After a pipe test, also a failed one: a writer blocked on a pipe that
 * nobody reads any more must not hang the next test. */
static int pipe_teardown(void **state)
{
    (void)state;
    if (pipe_fd >= 0)
        close(pipe_fd);
    pipe_fd = -1;
    if (writer_pid > 0) {
        kill(writer_pid, SIGKILL);
        waitpid(writer_pid, NULL, 0);
        writer_pid = -1;
    }
    return 0;
}

static void expect_line(sw_lines_t *r, const char *want, uint64_t lineno)
{
    const char *line = NULL;
    size_t len = 12345;
    int rc = sw_lines_next(r, &line, &len);
    if (rc != 1)
        fail_msg("line %llu: got %d, expected \"%s\"",
                 (unsigned long long)lineno, rc, want);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(line, want, len);
    assert_int_equal(r->lineno, lineno);
}

static void expect_too_long(sw_lines_t *r, size_t seen, uint64_t lineno)
{
    const char *line = NULL;
    size_t len = 12345;
    int rc = sw_lines_next(r, &line, &len);
    if (rc != SW_ERR_RANGE)
        fail_msg("line %llu: got %d, expected SW_ERR_RANGE",
                 (unsigned long long)lineno, rc);
    assert_int_equal(len, seen);
    assert_int_equal(r->lineno, lineno);
}

static void expect_end(sw_lines_t *r)
{
    const char *line;
    size_t len;
    assert_int_equal(sw_lines_next(r, &line, &len), 0);
    /* and it stays at the end */
    assert_int_equal(sw_lines_next(r, &line, &len), 0);
}

/* Opens a reader on a file holding the literal. */
#define OPEN_FILE(r, fd, lit, max)                                             \
    int fd = file_with(lit, sizeof(lit) - 1);                                  \
    assert_int_equal(sw_lines_init(&r, fd, max), 0)

static void close_reader(sw_lines_t *r, int fd)
{
    sw_lines_deinit(r);
    close(fd);
    if (fd == pipe_fd)
        pipe_fd = -1;
    reap_writer();
}

/* ----------------------------------------------------------- line ends */

static void test_lf_lines(void **state)
{
    (void)state;
    sw_lines_t r;
    OPEN_FILE(r, fd, "a\nbb\nccc\n", 100);
    expect_line(&r, "a", 1);
    expect_line(&r, "bb", 2);
    expect_line(&r, "ccc", 3);
    expect_end(&r);
    assert_int_equal(r.lineno, 3);
    assert_int_equal(r.bytes, 9);
    close_reader(&r, fd);
}

static void test_crlf_lines(void **state)
{
    (void)state;
    sw_lines_t r;
    OPEN_FILE(r, fd, "a\r\nbb\r\n\r\nc\r\n", 100);
    expect_line(&r, "a", 1);
    expect_line(&r, "bb", 2);
    expect_line(&r, "", 3);
    expect_line(&r, "c", 4);
    expect_end(&r);
    assert_int_equal(r.bytes, 12);
    close_reader(&r, fd);
}

static void test_mixed_line_ends(void **state)
{
    (void)state;
    sw_lines_t r;
    OPEN_FILE(r, fd, "a\r\nb\nc\r\nd", 100);
    expect_line(&r, "a", 1);
    expect_line(&r, "b", 2);
    expect_line(&r, "c", 3);
    expect_line(&r, "d", 4);
    expect_end(&r);
    close_reader(&r, fd);
}

static void test_cr_inside_a_line_is_kept(void **state)
{
    (void)state;
    sw_lines_t r;
    OPEN_FILE(r, fd, "a\rb\n\r\r\n\rx\n", 100);
    expect_line(&r, "a\rb", 1);
    expect_line(&r, "\r", 2);
    expect_line(&r, "\rx", 3);
    expect_end(&r);
    close_reader(&r, fd);
}

static void test_last_line_without_newline(void **state)
{
    (void)state;
    sw_lines_t r;
    OPEN_FILE(r, fd, "a\nlast", 100);
    expect_line(&r, "a", 1);
    expect_line(&r, "last", 2);
    expect_end(&r);
    assert_int_equal(r.lineno, 2);
    assert_int_equal(r.bytes, 6);
    close_reader(&r, fd);
}

static void test_last_line_cr_without_newline(void **state)
{
    (void)state;
    sw_lines_t r;
    OPEN_FILE(r, fd, "a\r\nlast\r", 100);
    expect_line(&r, "a", 1);
    expect_line(&r, "last", 2);
    expect_end(&r);
    close_reader(&r, fd);
}

static void test_empty_lines(void **state)
{
    (void)state;
    sw_lines_t r;
    OPEN_FILE(r, fd, "\n\n\nx\n\n", 100);
    expect_line(&r, "", 1);
    expect_line(&r, "", 2);
    expect_line(&r, "", 3);
    expect_line(&r, "x", 4);
    expect_line(&r, "", 5);
    expect_end(&r);
    close_reader(&r, fd);
}

static void test_empty_input(void **state)
{
    (void)state;
    sw_lines_t r;
    OPEN_FILE(r, fd, "", 100);
    expect_end(&r);
    assert_int_equal(r.lineno, 0);
    assert_int_equal(r.bytes, 0);
    close_reader(&r, fd);
}

static void test_single_newline(void **state)
{
    (void)state;
    sw_lines_t r;
    OPEN_FILE(r, fd, "\n", 100);
    expect_line(&r, "", 1);
    expect_end(&r);
    close_reader(&r, fd);
}

/* ------------------------------------------------------ over-long lines */

static void test_overlong_line_in_the_middle(void **state)
{
    (void)state;
    sw_lines_t r;
    OPEN_FILE(r, fd, "short\nxxxxxxxxxxx\nnext\nlast", 10);
    expect_line(&r, "short", 1);
    expect_too_long(&r, 11, 2);
    expect_line(&r, "next", 3);
    expect_line(&r, "last", 4);
    expect_end(&r);
    assert_int_equal(r.bytes, 27);
    close_reader(&r, fd);
}

static void test_two_overlong_lines_in_a_row(void **state)
{
    (void)state;
    sw_lines_t r;
    OPEN_FILE(r, fd, "0123456789ab\n0123456789abcdef\n\nok\n", 10);
    expect_too_long(&r, 12, 1);
    expect_too_long(&r, 16, 2);
    expect_line(&r, "", 3);
    expect_line(&r, "ok", 4);
    expect_end(&r);
    close_reader(&r, fd);
}

static void test_exactly_max_line(void **state)
{
    (void)state;
    sw_lines_t r;
    OPEN_FILE(r, fd, "0123456789\n0123456789x\n", 10);
    expect_line(&r, "0123456789", 1);
    expect_too_long(&r, 11, 2);
    expect_end(&r);
    close_reader(&r, fd);
}

static void test_exactly_max_line_with_crlf(void **state)
{
    (void)state;
    /* max_line counts the line without its "\r\n", as with "\n" */
    sw_lines_t r;
    OPEN_FILE(r, fd, "0123456789\r\n0123456789x\r\n0123456789\r", 10);
    expect_line(&r, "0123456789", 1);
    expect_too_long(&r, 12, 2);
    expect_line(&r, "0123456789", 3);
    expect_end(&r);
    close_reader(&r, fd);
}

static void test_max_line_crlf_split_across_reads(void **state)
{
    (void)state;
    /* the '\r' arrives in one read, its '\n' in the next */
    static const char data[] = "0123456789\r\nnext\n";
    static const size_t chunks[] = {11, 6};
    sw_lines_t r;
    int fd = pipe_with(data, sizeof(data) - 1, chunks, 2, 50000);
    assert_int_equal(sw_lines_init(&r, fd, 10), 0);
    expect_line(&r, "0123456789", 1);
    expect_line(&r, "next", 2);
    expect_end(&r);
    close_reader(&r, fd);
}

static void test_overlong_last_line_without_newline(void **state)
{
    (void)state;
    sw_lines_t r;
    OPEN_FILE(r, fd, "ok\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
              10);
    expect_line(&r, "ok", 1);
    expect_too_long(&r, 50, 2);
    expect_end(&r);
    close_reader(&r, fd);
}

static void test_overlong_line_bigger_than_the_buffer(void **state)
{
    (void)state;
    /* a 3 MiB line between short ones: dropped in pieces as it is read */
    size_t big = 3 * MIB;
    size_t len = 6 + big + 1 + 6 + 4;
    char *data = malloc(len);
    assert_non_null(data);
    memcpy(data, "first\n", 6);
    memset(data + 6, 'y', big);
    memcpy(data + 6 + big, "\nafter\ntail", 11);
    int fd = file_with(data, len);
    free(data);
    sw_lines_t r;
    assert_int_equal(sw_lines_init(&r, fd, 100), 0);
    expect_line(&r, "first", 1);
    expect_too_long(&r, big, 2);
    expect_line(&r, "after", 3);
    expect_line(&r, "tail", 4);
    expect_end(&r);
    assert_int_equal(r.bytes, len);
    close_reader(&r, fd);
}

static void test_long_line_within_max_line(void **state)
{
    (void)state;
    /* max_line above the default buffer: a 2.5 MiB line comes out whole */
    size_t big = 5 * MIB / 2;
    char *data = malloc(big + 3);
    assert_non_null(data);
    for (size_t i = 0; i < big; i++)
        data[i] = (char)('a' + i % 26);
    memcpy(data + big, "\nz", 2);
    int fd = file_with(data, big + 2);
    sw_lines_t r;
    assert_int_equal(sw_lines_init(&r, fd, 3 * MIB), 0);
    const char *line;
    size_t n;
    assert_int_equal(sw_lines_next(&r, &line, &n), 1);
    assert_int_equal(n, big);
    assert_memory_equal(line, data, big);
    expect_line(&r, "z", 2);
    expect_end(&r);
    free(data);
    close_reader(&r, fd);
}

/* ---------------------------------------------- the 1 MiB buffer boundary */

/* Builds lines of pseudo-random lengths 0..maxlen (a quarter with "\r\n",
 * every 89th exactly max_line, every 97th over it) up to about total
 * bytes. */
typedef struct {
    char *data;
    size_t len;
    size_t nlines;
    size_t *start, *llen; /* content of each line */
    int *too_long;
} corpus_t;

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void corpus_build(corpus_t *c, size_t total, size_t maxlen,
                         size_t max_line)
{
    size_t cap = total + 2 * maxlen + 64, lcap = total / 2 + 16;
    c->data = malloc(cap);
    c->start = malloc(lcap * sizeof(size_t));
    c->llen = malloc(lcap * sizeof(size_t));
    c->too_long = malloc(lcap * sizeof(int));
    assert_true(c->data && c->start && c->llen && c->too_long);
    c->len = 0;
    c->nlines = 0;
    uint64_t s = 88172645463325252u;
    while (c->len < total && c->nlines < lcap) {
        size_t i = c->nlines++;
        size_t n = (size_t)(rnd(&s) % (maxlen + 1));
        c->too_long[i] = i % 97 == 96;
        if (c->too_long[i])
            n = max_line + 1 + (size_t)(rnd(&s) % 5000);
        else if (i % 89 == 88)
            n = max_line; /* exactly at the limit, with "\n" or "\r\n" */
        else if (n > max_line)
            n = max_line;
        c->start[i] = c->len;
        c->llen[i] = n;
        for (size_t k = 0; k < n; k++)
            c->data[c->len++] = (char)('!' + (i * 7 + k) % 90);
        if (rnd(&s) % 4 == 0)
            c->data[c->len++] = '\r';
        c->data[c->len++] = '\n';
    }
}

static void corpus_free(corpus_t *c)
{
    free(c->data);
    free(c->start);
    free(c->llen);
    free(c->too_long);
}

static void corpus_check(const corpus_t *c, int fd, size_t max_line)
{
    sw_lines_t r;
    assert_int_equal(sw_lines_init(&r, fd, max_line), 0);
    for (size_t i = 0; i < c->nlines; i++) {
        const char *line;
        size_t n;
        int rc = sw_lines_next(&r, &line, &n);
        assert_int_equal(r.lineno, i + 1);
        if (c->too_long[i]) {
            if (rc != SW_ERR_RANGE)
                fail_msg("line %zu: got %d, expected SW_ERR_RANGE", i + 1, rc);
            continue;
        }
        if (rc != 1)
            fail_msg("line %zu: got %d", i + 1, rc);
        if (n != c->llen[i] || memcmp(line, c->data + c->start[i], n) != 0)
            fail_msg("line %zu differs (%zu bytes, expected %zu)", i + 1, n,
                     c->llen[i]);
    }
    expect_end(&r);
    assert_int_equal(r.bytes, c->len);
    sw_lines_deinit(&r);
}

static void test_lines_across_the_buffer_boundary_file(void **state)
{
    (void)state;
    corpus_t c;
    corpus_build(&c, 3 * MIB + 12345, 3000, 4096);
    assert_true(c.len > 3 * MIB);
    int fd = file_with(c.data, c.len);
    corpus_check(&c, fd, 4096);
    close(fd);
    corpus_free(&c);
}

static void test_lines_across_the_buffer_boundary_pipe(void **state)
{
    (void)state;
    corpus_t c;
    corpus_build(&c, 3 * MIB + 777, 3000, 4096);
    static const size_t chunks[] = {1, 4095, 70001, 3, 65536, 12289, 2};
    int fd = pipe_with(c.data, c.len, chunks, 7, 0);
    corpus_check(&c, fd, 4096);
    close(fd);
    pipe_fd = -1;
    reap_writer();
    corpus_free(&c);
}

static void test_lines_filling_the_buffer_exactly(void **state)
{
    (void)state;
    /* max_line = 1 MiB - 2 keeps the 1 MiB buffer: a line of max_line bytes
     * with "\r\n" fills it exactly, then one with "\n" ends a byte short */
    size_t max = MIB - 2;
    size_t len = (max + 2) + (max + 1) + (max + 2) + 3;
    char *data = malloc(len);
    assert_non_null(data);
    size_t off = 0;
    memset(data + off, 'a', max);
    off += max;
    data[off++] = '\r';
    data[off++] = '\n';
    memset(data + off, 'b', max);
    off += max;
    data[off++] = '\n';
    memset(data + off, 'c', max + 1);
    off += max + 1;
    data[off++] = '\n';
    memcpy(data + off, "end", 3);
    off += 3;
    assert_int_equal(off, len);
    int fd = file_with(data, len);
    sw_lines_t r;
    assert_int_equal(sw_lines_init(&r, fd, max), 0);
    const char *line;
    size_t n;
    assert_int_equal(sw_lines_next(&r, &line, &n), 1);
    assert_int_equal(n, max);
    assert_memory_equal(line, data, max);
    assert_int_equal(sw_lines_next(&r, &line, &n), 1);
    assert_int_equal(n, max);
    assert_memory_equal(line, data + max + 2, max);
    expect_too_long(&r, max + 1, 3);
    expect_line(&r, "end", 4);
    expect_end(&r);
    free(data);
    close_reader(&r, fd);
}

/* ---------------------------------------------------------------- misc */

static void test_read_error(void **state)
{
    (void)state;
    int fd = open("/", O_RDONLY | O_DIRECTORY);
    assert_true(fd >= 0);
    sw_lines_t r;
    assert_int_equal(sw_lines_init(&r, fd, 100), 0);
    const char *line;
    size_t n;
    errno = 0;
    assert_int_equal(sw_lines_next(&r, &line, &n), SW_ERR_IO);
    assert_int_equal(errno, EISDIR);
    close_reader(&r, fd);
}

static void test_deinit_is_safe(void **state)
{
    (void)state;
    sw_lines_t zero;
    memset(&zero, 0, sizeof(zero));
    sw_lines_deinit(&zero);
    sw_lines_t r;
    OPEN_FILE(r, fd, "x\n", 10);
    sw_lines_deinit(&r);
    assert_null(r.buf);
    sw_lines_deinit(&r);
    close(fd);
}

static void test_pipe_byte_by_byte(void **state)
{
    (void)state;
    static const char data[] = "ab\r\n\r\nlong-line-here\ncd\r\nxyz";
    static const size_t one[] = {1};
    int fd = pipe_with(data, sizeof(data) - 1, one, 1, 200);
    sw_lines_t r;
    assert_int_equal(sw_lines_init(&r, fd, 10), 0);
    expect_line(&r, "ab", 1);
    expect_line(&r, "", 2);
    expect_too_long(&r, 14, 3);
    expect_line(&r, "cd", 4);
    expect_line(&r, "xyz", 5);
    expect_end(&r);
    assert_int_equal(r.bytes, sizeof(data) - 1);
    close_reader(&r, fd);
}

#define T(f) cmocka_unit_test(f)

int main(void)
{
    static const struct CMUnitTest tests[] = {
        T(test_lf_lines),
        T(test_crlf_lines),
        T(test_mixed_line_ends),
        T(test_cr_inside_a_line_is_kept),
        T(test_last_line_without_newline),
        T(test_last_line_cr_without_newline),
        T(test_empty_lines),
        T(test_empty_input),
        T(test_single_newline),
        T(test_overlong_line_in_the_middle),
        T(test_two_overlong_lines_in_a_row),
        T(test_exactly_max_line),
        T(test_exactly_max_line_with_crlf),
        cmocka_unit_test_teardown(test_max_line_crlf_split_across_reads,
                                  pipe_teardown),
        T(test_overlong_last_line_without_newline),
        T(test_overlong_line_bigger_than_the_buffer),
        T(test_long_line_within_max_line),
        T(test_lines_across_the_buffer_boundary_file),
        cmocka_unit_test_teardown(test_lines_across_the_buffer_boundary_pipe,
                                  pipe_teardown),
        T(test_lines_filling_the_buffer_exactly),
        T(test_read_error),
        T(test_deinit_is_safe),
        cmocka_unit_test_teardown(test_pipe_byte_by_byte, pipe_teardown),
    };
    return cmocka_run_group_tests_name("sw_lines", tests, NULL, NULL);
}
