/*
 * Unit tests for sw_config: INI files (through libinih) read from temporary
 * files, and ordered property lists.
 */
#include "sw_config.h"
#include "sw_err.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* ------------------------------------------------------------- helpers */

typedef struct {
    char path[64];
} tmpfile_t;

static void write_ini(tmpfile_t *t, const char *text, size_t len)
{
    strcpy(t->path, "/tmp/sw_test_config_XXXXXX");
    int fd = mkstemp(t->path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
}

#define WRITE_INI(t, lit) write_ini(t, lit, sizeof(lit) - 1)

static sw_config_t *load_ok(const tmpfile_t *t)
{
    char err[256] = "";
    sw_config_t *c = sw_config_load(t->path, err, sizeof(err));
    if (c == NULL)
        fail_msg("load failed: %s", err);
    assert_string_equal(c->path, t->path);
    return c;
}

/* Loading fails with exactly "PATH" followed by want. */
static void load_fails(const tmpfile_t *t, const char *want)
{
    char err[512];
    memset(err, 'x', sizeof(err));
    sw_config_t *c = sw_config_load(t->path, err, sizeof(err));
    assert_null(c);
    char full[600];
    snprintf(full, sizeof(full), "%s%s", t->path, want);
    assert_string_equal(err, full);
}

static void expect_entry(const sw_config_t *c, size_t i, const char *section,
                         const char *key, const char *value, int line)
{
    assert_true(i < c->n);
    assert_string_equal(c->e[i].section, section);
    assert_string_equal(c->e[i].key, key);
    assert_string_equal(c->e[i].value, value);
    assert_int_equal(c->e[i].line, line);
}

#define SYNTAX                                                                 \
    ": syntax error (expected \"[section]\", \"key = value\", or a comment "   \
    "starting with ';' or '#'; lines are limited to 198 bytes)"

/* ----------------------------------------------------------------- INI */

static void test_entries_with_line_numbers(void **state)
{
    (void)state;
    tmpfile_t t;
    WRITE_INI(&t, "; surgewatch\n"
                  "# settings\n"
                  "top = 1\n"
                  "\n"
                  "[kafka]\n"
                  "bootstrap.servers = localhost:9092\n"
                  "group.id=sw\n"
                  "\n"
                  "[detectors]\n"
                  "  window   =   5m  \n"
                  "empty =\n");
    sw_config_t *c = load_ok(&t);
    assert_int_equal(c->n, 5);
    expect_entry(c, 0, "", "top", "1", 3);
    expect_entry(c, 1, "kafka", "bootstrap.servers", "localhost:9092", 6);
    expect_entry(c, 2, "kafka", "group.id", "sw", 7);
    expect_entry(c, 3, "detectors", "window", "5m", 10);
    expect_entry(c, 4, "detectors", "empty", "", 11);
    sw_config_destroy(&c);
    assert_null(c);
    unlink(t.path);
}

static void test_find(void **state)
{
    (void)state;
    tmpfile_t t;
    WRITE_INI(&t, "[a]\n"
                  "k = first\n"
                  "[b]\n"
                  "k = other\n"
                  "[a]\n"
                  "k = second\n");
    sw_config_t *c = load_ok(&t);
    const sw_config_entry_t *e = sw_config_find(c, "a", "k");
    assert_non_null(e);
    /* the last one wins */
    assert_string_equal(e->value, "second");
    assert_int_equal(e->line, 6);
    e = sw_config_find(c, "b", "k");
    assert_non_null(e);
    assert_string_equal(e->value, "other");
    assert_null(sw_config_find(c, "a", "K"));
    assert_null(sw_config_find(c, "c", "k"));
    assert_null(sw_config_find(c, "", "k"));
    sw_config_destroy(&c);
    unlink(t.path);
}

static void test_inline_comments_and_colons(void **state)
{
    (void)state;
    tmpfile_t t;
    WRITE_INI(&t, "[s]\n"
                  "k = v ; a comment\n"
                  "c: d\n"
                  "url = http://h/x#frag\n");
    sw_config_t *c = load_ok(&t);
    assert_int_equal(c->n, 3);
    expect_entry(c, 0, "s", "k", "v", 2);
    expect_entry(c, 1, "s", "c", "d", 3);
    expect_entry(c, 2, "s", "url", "http://h/x#frag", 4);
    sw_config_destroy(&c);
    unlink(t.path);
}

static void test_crlf_and_bom(void **state)
{
    (void)state;
    tmpfile_t t;
    WRITE_INI(&t, "\xef\xbb\xbf[s]\r\n"
                  "k = v\r\n"
                  "\r\n"
                  "j = w\r\n");
    sw_config_t *c = load_ok(&t);
    assert_int_equal(c->n, 2);
    expect_entry(c, 0, "s", "k", "v", 2);
    expect_entry(c, 1, "s", "j", "w", 4);
    sw_config_destroy(&c);
    unlink(t.path);
}

static void test_empty_file(void **state)
{
    (void)state;
    tmpfile_t t;
    WRITE_INI(&t, "");
    sw_config_t *c = load_ok(&t);
    assert_int_equal(c->n, 0);
    assert_null(sw_config_find(c, "", "k"));
    sw_config_destroy(&c);
    unlink(t.path);
}

static void test_many_entries(void **state)
{
    (void)state;
    /* more than the first allocation of entries */
    char text[4096];
    size_t off = 0;
    off += (size_t)snprintf(text + off, sizeof(text) - off, "[many]\n");
    for (int i = 0; i < 100; i++)
        off += (size_t)snprintf(text + off, sizeof(text) - off, "k%d = %d\n", i,
                                i * i);
    tmpfile_t t;
    write_ini(&t, text, off);
    sw_config_t *c = load_ok(&t);
    assert_int_equal(c->n, 100);
    expect_entry(c, 0, "many", "k0", "0", 2);
    expect_entry(c, 57, "many", "k57", "3249", 59);
    expect_entry(c, 99, "many", "k99", "9801", 101);
    sw_config_destroy(&c);
    unlink(t.path);
}

static void test_syntax_error_names_the_line(void **state)
{
    (void)state;
    tmpfile_t t;
    WRITE_INI(&t, "[s]\n"
                  "k = v\n"
                  "\n"
                  "this is not a setting\n"
                  "j = w\n");
    load_fails(&t, ":4" SYNTAX);
    unlink(t.path);
}

static void test_first_syntax_error_is_named(void **state)
{
    (void)state;
    tmpfile_t t;
    WRITE_INI(&t, "[s]\n"
                  "oops\n"
                  "k = v\n"
                  "[unclosed\n");
    load_fails(&t, ":2" SYNTAX);
    unlink(t.path);
}

static void test_unclosed_section(void **state)
{
    (void)state;
    tmpfile_t t;
    WRITE_INI(&t, "a = 1\n"
                  "[kafka\n"
                  "b = 2\n");
    load_fails(&t, ":2" SYNTAX);
    unlink(t.path);
}

static void test_syntax_error_on_the_first_line(void **state)
{
    (void)state;
    tmpfile_t t;
    WRITE_INI(&t, "no equals sign");
    load_fails(&t, ":1" SYNTAX);
    unlink(t.path);
}

static char *long_line_file(tmpfile_t *t, const char *before, size_t n,
                            const char *tail, const char *after)
{
    /* before, then "key = " and n 'v's and tail on one line, then after */
    size_t len = strlen(before) + 6 + n + strlen(tail) + 1 + strlen(after);
    char *text = malloc(len + 1);
    assert_non_null(text);
    size_t off = (size_t)sprintf(text, "%skey = ", before);
    memset(text + off, 'v', n);
    off += n;
    sprintf(text + off, "%s\n%s", tail, after);
    write_ini(t, text, len);
    return text;
}

static void test_long_line_names_its_line(void **state)
{
    (void)state;
    tmpfile_t t;
    free(long_line_file(&t, "[s]\na = 1\n", 300, "", "b = 2\n"));
    load_fails(&t, ":3: line is too long (lines are limited to 198 bytes)");
    unlink(t.path);
}

static void test_long_line_is_not_split_into_a_key(void **state)
{
    (void)state;
    /* the part past the buffer looks like a setting of its own */
    tmpfile_t t;
    free(long_line_file(&t, "[kafka]\n", 190, "sasl.password=hunter2",
                        "next = 1\n"));
    load_fails(&t, ":2: line is too long (lines are limited to 198 bytes)");
    unlink(t.path);
}

static void test_long_line_is_not_split_into_a_continuation(void **state)
{
    (void)state;
    /* the part past the buffer starts with a space: a continuation line */
    tmpfile_t t;
    free(long_line_file(&t, "[s]\n", 193, " tail of the value", ""));
    load_fails(&t, ":2: line is too long (lines are limited to 198 bytes)");
    unlink(t.path);
}

static void test_longest_lines_fit(void **state)
{
    (void)state;
    /* 198 bytes with "\r\n" and 199 with "\n" fill inih's 200-byte buffer
     * without being cut; the lines after keep their numbers */
    char text[1024];
    size_t off = 0;
    off += (size_t)sprintf(text + off, "[s]\r\na = ");
    memset(text + off, 'a', 194);
    off += 194;
    off += (size_t)sprintf(text + off, "\r\nb = ");
    memset(text + off, 'b', 195);
    off += 195;
    off += (size_t)sprintf(text + off, "\nc = 3\n");
    tmpfile_t t;
    write_ini(&t, text, off);
    sw_config_t *c = load_ok(&t);
    assert_int_equal(c->n, 3);
    assert_int_equal(strlen(c->e[0].value), 194);
    assert_int_equal(c->e[0].line, 2);
    assert_int_equal(strlen(c->e[1].value), 195);
    assert_int_equal(c->e[1].line, 3);
    expect_entry(c, 2, "s", "c", "3", 4);
    sw_config_destroy(&c);
    unlink(t.path);
}

static void test_missing_file(void **state)
{
    (void)state;
    char err[256];
    const char *path = "/tmp/sw_test_config_no_such_dir/surgewatch.ini";
    sw_config_t *c = sw_config_load(path, err, sizeof(err));
    assert_null(c);
    assert_string_equal(err, "/tmp/sw_test_config_no_such_dir/surgewatch.ini: "
                             "cannot open: No such file or directory");
}

static void test_directory_as_file(void **state)
{
    (void)state;
    char err[256];
    sw_config_t *c = sw_config_load("/tmp", err, sizeof(err));
    assert_null(c);
    assert_string_equal(err, "/tmp: read error");
}

static void test_small_errstr(void **state)
{
    (void)state;
    char err[16];
    memset(err, 'x', sizeof(err));
    sw_config_t *c =
        sw_config_load("/tmp/sw_test_config_no_such_file.ini", err, 12);
    assert_null(c);
    assert_string_equal(err, "/tmp/sw_tes");
    assert_int_equal(err[12], 'x');
}

static void test_destroy_null(void **state)
{
    (void)state;
    sw_config_t *c = NULL;
    sw_config_destroy(&c);
    sw_config_destroy(NULL);
    assert_null(c);
}

/* --------------------------------------------------------------- props */

static void test_props_set_and_find(void **state)
{
    (void)state;
    sw_props_t p = {0};
    assert_int_equal(sw_props_set(&p, "a", "1", "file.ini:3"), 0);
    assert_int_equal(sw_props_set(&p, "b", "2", NULL), 0);
    assert_int_equal(p.n, 2);
    const sw_prop_t *e = sw_props_find(&p, "a");
    assert_non_null(e);
    assert_string_equal(e->key, "a");
    assert_string_equal(e->value, "1");
    assert_string_equal(e->origin, "file.ini:3");
    e = sw_props_find(&p, "b");
    assert_non_null(e);
    assert_string_equal(e->value, "2");
    assert_null(e->origin);
    assert_null(sw_props_find(&p, "c"));
    assert_null(sw_props_find(&p, "A"));
    sw_props_deinit(&p);
}

static void test_props_copy_their_strings(void **state)
{
    (void)state;
    sw_props_t p = {0};
    char k[8] = "key", v[8] = "val", o[8] = "env";
    assert_int_equal(sw_props_set(&p, k, v, o), 0);
    strcpy(k, "XXX");
    strcpy(v, "YYY");
    strcpy(o, "ZZZ");
    const sw_prop_t *e = sw_props_find(&p, "key");
    assert_non_null(e);
    assert_string_equal(e->value, "val");
    assert_string_equal(e->origin, "env");
    sw_props_deinit(&p);
}

static void test_props_replace_in_place(void **state)
{
    (void)state;
    sw_props_t p = {0};
    sw_props_set(&p, "a", "1", "file");
    sw_props_set(&p, "b", "2", "file");
    sw_props_set(&p, "c", "3", "file");
    assert_int_equal(sw_props_set(&p, "b", "20", "command line"), 0);
    assert_int_equal(p.n, 3);
    assert_string_equal(p.v[0].key, "a");
    assert_string_equal(p.v[1].key, "b");
    assert_string_equal(p.v[1].value, "20");
    assert_string_equal(p.v[1].origin, "command line");
    assert_string_equal(p.v[2].key, "c");
    /* replacing with no origin drops the old one */
    assert_int_equal(sw_props_set(&p, "b", "21", NULL), 0);
    assert_null(sw_props_find(&p, "b")->origin);
    assert_string_equal(sw_props_find(&p, "b")->value, "21");
    sw_props_deinit(&p);
}

static void test_props_remove(void **state)
{
    (void)state;
    sw_props_t p = {0};
    sw_props_set(&p, "a", "1", NULL);
    sw_props_set(&p, "b", "2", NULL);
    sw_props_set(&p, "c", "3", NULL);
    sw_props_set(&p, "d", "4", NULL);
    sw_props_remove(&p, "b");
    assert_int_equal(p.n, 3);
    assert_null(sw_props_find(&p, "b"));
    assert_string_equal(p.v[0].key, "a");
    assert_string_equal(p.v[1].key, "c");
    assert_string_equal(p.v[2].key, "d");
    sw_props_remove(&p, "d");  /* the last */
    sw_props_remove(&p, "zz"); /* absent: nothing happens */
    assert_int_equal(p.n, 2);
    assert_string_equal(p.v[1].value, "3");
    sw_props_remove(&p, "a");
    sw_props_remove(&p, "c");
    assert_int_equal(p.n, 0);
    /* and it is reusable */
    assert_int_equal(sw_props_set(&p, "e", "5", NULL), 0);
    assert_string_equal(sw_props_find(&p, "e")->value, "5");
    sw_props_deinit(&p);
}

static void test_props_set_kv(void **state)
{
    (void)state;
    sw_props_t p = {0};
    assert_int_equal(sw_props_set_kv(&p, "linger.ms=5", "-X"), 0);
    assert_int_equal(sw_props_set_kv(&p, "sasl.jaas=a=b=c", "-X"), 0);
    assert_int_equal(sw_props_set_kv(&p, "empty=", NULL), 0);
    assert_string_equal(sw_props_find(&p, "linger.ms")->value, "5");
    assert_string_equal(sw_props_find(&p, "linger.ms")->origin, "-X");
    assert_string_equal(sw_props_find(&p, "sasl.jaas")->value, "a=b=c");
    assert_string_equal(sw_props_find(&p, "empty")->value, "");
    assert_int_equal(p.n, 3);
    sw_props_deinit(&p);
}

static void test_props_set_kv_errors(void **state)
{
    (void)state;
    sw_props_t p = {0};
    assert_int_equal(sw_props_set_kv(&p, "novalue", NULL), SW_ERR_INVAL);
    assert_int_equal(sw_props_set_kv(&p, "=value", NULL), SW_ERR_INVAL);
    assert_int_equal(sw_props_set_kv(&p, "", NULL), SW_ERR_INVAL);
    assert_int_equal(p.n, 0);
    sw_props_deinit(&p);
}

static void test_props_set_kv_long_keys(void **state)
{
    (void)state;
    sw_props_t p = {0};
    char kv[300];
    memset(kv, 'k', 255);
    strcpy(kv + 255, "=v");
    assert_int_equal(sw_props_set_kv(&p, kv, NULL), 0);
    kv[255] = '\0';
    assert_string_equal(sw_props_find(&p, kv)->value, "v");
    memset(kv, 'k', 256);
    strcpy(kv + 256, "=v");
    assert_int_equal(sw_props_set_kv(&p, kv, NULL), SW_ERR_INVAL);
    assert_int_equal(p.n, 1);
    sw_props_deinit(&p);
}

static void test_props_many_and_deinit(void **state)
{
    (void)state;
    sw_props_t p = {0};
    char k[16], v[16];
    for (int i = 0; i < 100; i++) {
        snprintf(k, sizeof(k), "k%d", i);
        snprintf(v, sizeof(v), "v%d", i);
        assert_int_equal(sw_props_set(&p, k, v, "loop"), 0);
    }
    assert_int_equal(p.n, 100);
    assert_string_equal(sw_props_find(&p, "k73")->value, "v73");
    assert_string_equal(p.v[99].key, "k99");
    sw_props_deinit(&p);
    assert_int_equal(p.n, 0);
    assert_null(p.v);
    sw_props_deinit(&p); /* twice is fine */
    assert_int_equal(sw_props_set(&p, "again", "1", NULL), 0);
    assert_int_equal(p.n, 1);
    sw_props_deinit(&p);
}

#define T(f) cmocka_unit_test(f)

int main(void)
{
    static const struct CMUnitTest tests[] = {
        T(test_entries_with_line_numbers),
        T(test_find),
        T(test_inline_comments_and_colons),
        T(test_crlf_and_bom),
        T(test_empty_file),
        T(test_many_entries),
        T(test_syntax_error_names_the_line),
        T(test_first_syntax_error_is_named),
        T(test_unclosed_section),
        T(test_syntax_error_on_the_first_line),
        T(test_long_line_names_its_line),
        T(test_long_line_is_not_split_into_a_key),
        T(test_long_line_is_not_split_into_a_continuation),
        T(test_longest_lines_fit),
        T(test_missing_file),
        T(test_directory_as_file),
        T(test_small_errstr),
        T(test_destroy_null),
        T(test_props_set_and_find),
        T(test_props_copy_their_strings),
        T(test_props_replace_in_place),
        T(test_props_remove),
        T(test_props_set_kv),
        T(test_props_set_kv_errors),
        T(test_props_set_kv_long_keys),
        T(test_props_many_and_deinit),
    };
    return cmocka_run_group_tests_name("sw_config", tests, NULL, NULL);
}
