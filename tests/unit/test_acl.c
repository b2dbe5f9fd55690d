/*
 * Unit tests for sw_acl: the authorised-keys file, what each entry may see
 * (topics and subscription prefixes), and the CURVE key files (the
 * certificate format of czmq and pyzmq's zmq.auth).
 *
 * Files live in a temporary directory made per test (mkdtemp) and removed
 * after it. The keys of the authorised-keys files are Z85 encodings of
 * fixed bytes, so every run reads the same files.
 */
#include "sw_acl.h"

#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <cmocka.h>

/* ------------------------------------------------------------- helpers */

typedef struct {
    char dir[64];
} tmp_t;

static int tmp_setup(void **state)
{
    tmp_t *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return -1;
    snprintf(t->dir, sizeof(t->dir), "/tmp/sw_test_acl_XXXXXX");
    if (mkdtemp(t->dir) == NULL) {
        free(t);
        return -1;
    }
    *state = t;
    return 0;
}

static int tmp_teardown(void **state)
{
    tmp_t *t = *state;
    DIR *d = opendir(t->dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char p[sizeof(t->dir) + sizeof(e->d_name) + 1];
            snprintf(p, sizeof(p), "%s/%s", t->dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(t->dir);
    free(t);
    return 0;
}

static void tmp_path(const tmp_t *t, const char *name, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/%s", t->dir, name);
    assert_true(n > 0 && (size_t)n < cap);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/* A temporary file (mkstemp) holding text; its path in out. */
static void temp_file(const char *text, char *out, size_t cap)
{
    int n = snprintf(out, cap, "/tmp/sw_test_acl_keys_XXXXXX");
    assert_true(n > 0 && (size_t)n < cap);
    int fd = mkstemp(out);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

/* The Z85 text of 32 fixed bytes (seed picks them), and the bytes. */
static void fixed_key(unsigned seed, char z85[SW_Z85_KEY_LEN + 1],
                      uint8_t bytes[32])
{
    for (int i = 0; i < 32; i++)
        bytes[i] = (uint8_t)(seed * 37u + (unsigned)i * 11u + 5u);
    assert_non_null(zmq_z85_encode(z85, bytes, 32));
    assert_int_equal(strlen(z85), SW_Z85_KEY_LEN);
}

static char K1[SW_Z85_KEY_LEN + 1], K2[SW_Z85_KEY_LEN + 1],
    K3[SW_Z85_KEY_LEN + 1], K4[SW_Z85_KEY_LEN + 1];
static uint8_t B1[32], B2[32], B3[32], B4[32];

static void make_keys(void)
{
    fixed_key(1, K1, B1);
    fixed_key(2, K2, B2);
    fixed_key(3, K3, B3);
    fixed_key(4, K4, B4);
}

/* The standard file: comments, blank lines, a restricted entry, a "*"
 * entry, a subsection entry; the last line without its newline. */
static void std_file(char *out, size_t cap)
{
    char text[2048];
    snprintf(text, sizeof(text),
             "# authorised subscriber keys\n"
             "\n"
             "# public key (Z85, 40 characters)        name   sections\n"
             "%s  centre-budapest   HU-RS,HR-RS\n"
             "   \t  \n"
             "\t%s\tfrontex-hq\t*   # every section\n"
             "#%s disabled HU-RS\n"
             "%s post.roszke@police.hu HU-RS/roszke\r\n"
             "\n"
             "   # indented comment\n"
             "%s  HR-SI_watch  HR-SI,AT-SI",
             K1, K2, K3, K3, K4);
    temp_file(text, out, cap);
}

static sw_acl_t *load_std(char *path, size_t cap)
{
    std_file(path, cap);
    char err[512] = "";
    sw_acl_t *acl = sw_acl_load(path, err, sizeof(err));
    if (acl == NULL)
        fail_msg("refused: %s", err);
    return acl;
}

/* Loads a file holding text; expects the refusal "PATH:LINE: " followed by
 * a message holding what. */
static void check_load_refused(const char *text, int line, const char *what)
{
    char path[64], err[512] = "", want[128];
    temp_file(text, path, sizeof(path));
    sw_acl_t *acl = sw_acl_load(path, err, sizeof(err));
    unlink(path);
    if (acl != NULL) {
        sw_acl_free(&acl);
        fail_msg("accepted, expected line %d: %s", line, what);
    }
    snprintf(want, sizeof(want), "%s:%d: ", path, line);
    if (strncmp(err, want, strlen(want)) != 0)
        fail_msg("got \"%s\", expected it to start with \"%s\"", err, want);
    if (strstr(err + strlen(want), what) == NULL)
        fail_msg("got \"%s\", expected it to say \"%s\"", err, what);
}

/* ---------------------------------------------------------- sw_acl_load */

static void test_load_standard_file(void **state)
{
    (void)state;
    make_keys();
    char path[64];
    sw_acl_t *acl = load_std(path, sizeof(path));
    unlink(path);
    assert_int_equal(acl->n, 4);

    const sw_acl_entry_t *e = &acl->v[0];
    assert_string_equal(e->name, "centre-budapest");
    assert_string_equal(e->key_z85, K1);
    assert_memory_equal(e->key, B1, 32);
    assert_int_equal(e->all, 0);
    assert_int_equal(e->nsections, 2);
    assert_string_equal(e->sections[0], "HU-RS");
    assert_string_equal(e->sections[1], "HR-RS");

    e = &acl->v[1];
    assert_string_equal(e->name, "frontex-hq");
    assert_string_equal(e->key_z85, K2);
    assert_memory_equal(e->key, B2, 32);
    assert_int_equal(e->all, 1);
    assert_int_equal(e->nsections, 0);

    e = &acl->v[2];
    assert_string_equal(e->name, "post.roszke@police.hu");
    assert_memory_equal(e->key, B3, 32);
    assert_int_equal(e->all, 0);
    assert_int_equal(e->nsections, 1);
    assert_string_equal(e->sections[0], "HU-RS/roszke");

    e = &acl->v[3];
    assert_string_equal(e->name, "HR-SI_watch");
    assert_string_equal(e->key_z85, K4);
    assert_int_equal(e->nsections, 2);
    assert_string_equal(e->sections[1], "AT-SI");

    sw_acl_free(&acl);
    assert_null(acl);
    sw_acl_free(&acl); /* NULL is fine */
    sw_acl_free(NULL);
}

static void test_load_empty_and_comment_only(void **state)
{
    (void)state;
    static const char *const texts[] = {"", "\n\n", "# nothing\n  # here\n"};
    for (size_t i = 0; i < 3; i++) {
        char path[64], err[512] = "";
        temp_file(texts[i], path, sizeof(path));
        sw_acl_t *acl = sw_acl_load(path, err, sizeof(err));
        unlink(path);
        if (acl == NULL)
            fail_msg("refused: %s", err);
        assert_int_equal(acl->n, 0);
        make_keys();
        assert_null(sw_acl_find_key(acl, B1));
        assert_null(sw_acl_find_name(acl, "x", 1));
        sw_acl_free(&acl);
    }
}

static void test_find_key(void **state)
{
    (void)state;
    make_keys();
    char path[64];
    sw_acl_t *acl = load_std(path, sizeof(path));
    unlink(path);
    /* by the bytes zmq_z85_decode gives for the key text */
    uint8_t key[32];
    assert_non_null(zmq_z85_decode(key, K1));
    const sw_acl_entry_t *e = sw_acl_find_key(acl, key);
    assert_non_null(e);
    assert_string_equal(e->name, "centre-budapest");
    assert_ptr_equal(e, &acl->v[0]);
    /* by an entry's own key */
    assert_ptr_equal(sw_acl_find_key(acl, acl->v[1].key), &acl->v[1]);
    assert_ptr_equal(sw_acl_find_key(acl, B4), &acl->v[3]);
    /* a key that is not listed */
    uint8_t other[32];
    char oz[SW_Z85_KEY_LEN + 1];
    fixed_key(9, oz, other);
    assert_null(sw_acl_find_key(acl, other));
    key[31] ^= 1;
    assert_null(sw_acl_find_key(acl, key));
    assert_null(sw_acl_find_key(NULL, B1));
    sw_acl_free(&acl);
}

static void test_find_name(void **state)
{
    (void)state;
    make_keys();
    char path[64];
    sw_acl_t *acl = load_std(path, sizeof(path));
    unlink(path);
    const sw_acl_entry_t *e = sw_acl_find_name(acl, "frontex-hq", 10);
    assert_ptr_equal(e, &acl->v[1]);
    assert_memory_equal(e->key, B2, 32);
    /* len bytes, no NUL needed */
    assert_ptr_equal(sw_acl_find_name(acl, "frontex-hq-and-more", 10),
                     &acl->v[1]);
    assert_ptr_equal(sw_acl_find_name(acl, "post.roszke@police.hu", 21),
                     &acl->v[2]);
    /* no prefixes, no extensions, case matters */
    assert_null(sw_acl_find_name(acl, "frontex", 7));
    assert_null(sw_acl_find_name(acl, "frontex-hq2", 11));
    assert_null(sw_acl_find_name(acl, "FRONTEX-HQ", 10));
    assert_null(sw_acl_find_name(acl, "", 0));
    assert_null(sw_acl_find_name(NULL, "frontex-hq", 10));
    sw_acl_free(&acl);
}

static void test_load_refusals(void **state)
{
    (void)state;
    make_keys();
    char text[2048];
    /* a malformed key on line 3 */
    snprintf(text, sizeof(text),
             "# keys\n%s a HU-RS\nnot-a-key b HU-RS\n%s c HU-RS\n", K1, K2);
    check_load_refused(text, 3, "not a CURVE public key");
    /* 39 characters, and 41 */
    snprintf(text, sizeof(text), "\n\n\n\n%.39s a HU-RS\n", K1);
    check_load_refused(text, 5, "not a CURVE public key");
    snprintf(text, sizeof(text), "%sx a HU-RS\n", K1);
    check_load_refused(text, 1, "not a CURVE public key");
    /* 40 characters, one of them not Z85 */
    snprintf(text, sizeof(text), "%s a HU-RS\n%.39s~ b HU-RS\n", K1, K2);
    check_load_refused(text, 2, "not a CURVE public key");
    /* two fields only, one field only, four fields */
    snprintf(text, sizeof(text), "# x\n\n%s centre\n", K1);
    check_load_refused(text, 3, "expected three fields");
    snprintf(text, sizeof(text), "%s a HU-RS\n%s\n", K1, K2);
    check_load_refused(text, 2, "expected three fields");
    snprintf(text, sizeof(text), "%s a HU-RS extra\n", K1);
    check_load_refused(text, 1, "expected three fields");
    /* the same key twice (other names), at line 6 */
    snprintf(text, sizeof(text), "%s a HU-RS\n# c\n%s b *\n\n  \n%s c HR-RS\n",
             K1, K2, K1);
    check_load_refused(text, 6, "this key is listed twice");
    /* the same name twice (other keys) */
    snprintf(text, sizeof(text), "%s centre HU-RS\n%s other *\n%s centre *\n",
             K1, K2, K3);
    check_load_refused(text, 3, "this name is used twice");
    /* bad section ids */
    snprintf(text, sizeof(text), "%s a HU-RS,RS-HU\n", K1);
    check_load_refused(text, 1, "bad section id");
    snprintf(text, sizeof(text), "# one\n%s a HU-RS\n%s b hu-rs\n", K1, K2);
    check_load_refused(text, 3, "bad section id");
    snprintf(text, sizeof(text), "%s a *,HU-RS\n", K1);
    check_load_refused(text, 1, "bad section id");
    snprintf(text, sizeof(text), "%s a HU-RS/Roszke\n", K1);
    check_load_refused(text, 1, "bad section id");
    snprintf(text, sizeof(text), "\n%s a ,\n", K1);
    check_load_refused(text, 2, "no sections");
    /* bad names */
    snprintf(text, sizeof(text), "\n\n%s centre/budapest HU-RS\n", K1);
    check_load_refused(text, 3, "bad name");
    snprintf(text, sizeof(text), "%s a HU-RS\n%s caf\xc3\xa9 HU-RS\n", K1, K2);
    check_load_refused(text, 2, "bad name");
    snprintf(text, sizeof(text),
             "%s "
             "n1234567890123456789012345678901234567890123456789012345678901234"
             " HU-RS\n",
             K1);
    check_load_refused(text, 1, "bad name");
}

static void test_load_name_of_64_bytes(void **state)
{
    (void)state;
    make_keys();
    char text[512], path[64], err[512] = "";
    static const char name[] =
        "n123456789012345678901234567890123456789012345678901234567890123";
    assert_int_equal(strlen(name), SW_ACL_NAME_MAX);
    snprintf(text, sizeof(text), "%s %s HU-RS\n", K1, name);
    temp_file(text, path, sizeof(path));
    sw_acl_t *acl = sw_acl_load(path, err, sizeof(err));
    unlink(path);
    if (acl == NULL)
        fail_msg("refused: %s", err);
    assert_string_equal(acl->v[0].name, name);
    assert_ptr_equal(sw_acl_find_name(acl, name, SW_ACL_NAME_MAX), &acl->v[0]);
    sw_acl_free(&acl);
}

static void test_load_missing_file(void **state)
{
    tmp_t *t = *state;
    char path[128], err[512] = "", want[192];
    tmp_path(t, "no-such-file", path, sizeof(path));
    assert_null(sw_acl_load(path, err, sizeof(err)));
    snprintf(want, sizeof(want), "%s: %s", path, strerror(ENOENT));
    assert_string_equal(err, want);
}

/* ----------------------------------------------------- topic visibility */

#define VIS(e, s) sw_acl_topic_visible((e), (s), strlen(s))

static void test_topic_visible(void **state)
{
    (void)state;
    make_keys();
    char path[64];
    sw_acl_t *acl = load_std(path, sizeof(path));
    unlink(path);
    const sw_acl_entry_t *e = sw_acl_find_name(acl, "centre-budapest", 15);
    assert_non_null(e);
    assert_true(VIS(e, "alert.HU-RS."));
    assert_true(VIS(e, "alert.HR-RS."));
    assert_true(VIS(e, "alert.HU-RS/roszke."));
    assert_true(VIS(e, "hb."));
    assert_false(VIS(e, "alert.RS-XK."));
    assert_false(VIS(e, "alert.HU-SK."));
    assert_false(VIS(e, "alert.HU-RSX."));
    assert_false(VIS(e, "alert.HU-RS"));
    assert_false(VIS(e, "alert.HU-"));
    assert_false(VIS(e, "alert."));
    assert_false(VIS(e, "hb"));
    assert_false(VIS(e, ""));
    assert_false(VIS(e, "x.HU-RS."));
    /* len bytes of the topic */
    assert_false(sw_acl_topic_visible(e, "alert.HU-RS.", 11));
    assert_true(sw_acl_topic_visible(e, "alert.HU-RS.junk", 12));

    /* a subsection entry sees its subsection only */
    const sw_acl_entry_t *s = &acl->v[2];
    assert_true(VIS(s, "alert.HU-RS/roszke."));
    assert_true(VIS(s, "hb."));
    assert_false(VIS(s, "alert.HU-RS."));
    assert_false(VIS(s, "alert.HU-RS/roszkex."));
    assert_false(VIS(s, "alert.HU-RS/horgos."));

    /* "*" and no access control see everything */
    const sw_acl_entry_t *all = &acl->v[1];
    static const char *const topics[] = {
        "alert.HU-RS.", "alert.RS-XK.", "alert.HU-RS/roszke.", "hb.", "", "zz",
    };
    for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
        assert_true(VIS(all, topics[i]));
        assert_true(VIS(NULL, topics[i]));
    }
    sw_acl_free(&acl);
}

/* ------------------------------------------------------ prefix mapping */

typedef struct {
    char v[16][64];
    size_t n;
} got_t;

static void collect(void *opaque, const char *p, size_t len)
{
    got_t *g = opaque;
    assert_true(g->n < 16);
    assert_true(len < 64);
    memcpy(g->v[g->n], p, len);
    g->v[g->n][len] = '\0';
    g->n++;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* e maps prefix to exactly the want[] prefixes (NULL-terminated; in any
 * order, each once). */
static void check_map(const sw_acl_entry_t *e, const char *prefix,
                      const char *const *want)
{
    got_t g = {.n = 0};
    sw_acl_map_prefix(e, prefix, strlen(prefix), collect, &g);
    size_t nw = 0;
    char w[16][64];
    for (; want[nw]; nw++) {
        assert_true(nw < 16);
        snprintf(w[nw], sizeof(w[nw]), "%s", want[nw]);
    }
    qsort(g.v, g.n, sizeof(g.v[0]), cmp_str);
    qsort(w, nw, sizeof(w[0]), cmp_str);
    int same = g.n == nw;
    for (size_t i = 0; same && i < nw; i++)
        same = strcmp(g.v[i], w[i]) == 0;
    if (!same) {
        char got[1024] = "", expd[1024] = "";
        for (size_t i = 0; i < g.n; i++)
            snprintf(got + strlen(got), sizeof(got) - strlen(got), " '%s'",
                     g.v[i]);
        for (size_t i = 0; i < nw; i++)
            snprintf(expd + strlen(expd), sizeof(expd) - strlen(expd), " '%s'",
                     w[i]);
        fail_msg("prefix '%s': got {%s }, expected {%s }", prefix, got, expd);
    }
}

#define L(...)                                                                 \
    (const char *const[])                                                      \
    {                                                                          \
        __VA_ARGS__, NULL                                                      \
    }
#define NOTHING                                                                \
    (const char *const[])                                                      \
    {                                                                          \
        NULL                                                                   \
    }

static void test_map_prefix_restricted(void **state)
{
    (void)state;
    make_keys();
    char path[64];
    sw_acl_t *acl = load_std(path, sizeof(path));
    unlink(path);
    const sw_acl_entry_t *e = &acl->v[0]; /* HU-RS,HR-RS */
    check_map(e, "",
              L("hb.", "alert.HU-RS.", "alert.HU-RS/", "alert.HR-RS.",
                "alert.HR-RS/"));
    check_map(
        e, "alert.",
        L("alert.HU-RS.", "alert.HU-RS/", "alert.HR-RS.", "alert.HR-RS/"));
    check_map(e, "alert.HU-RS.", L("alert.HU-RS."));
    check_map(e, "alert.HU-RS", L("alert.HU-RS.", "alert.HU-RS/"));
    check_map(e, "alert.HU-", L("alert.HU-RS.", "alert.HU-RS/"));
    check_map(
        e, "alert.H",
        L("alert.HU-RS.", "alert.HU-RS/", "alert.HR-RS.", "alert.HR-RS/"));
    check_map(e, "alert.HU-RS/roszke.", L("alert.HU-RS/roszke."));
    check_map(e, "alert.RS-", NOTHING);
    check_map(e, "alert.HU-SK.", NOTHING);
    check_map(e, "alert.HU-RS.x", L("alert.HU-RS.x"));
    check_map(e, "hb", L("hb."));
    check_map(e, "hb.", L("hb."));
    check_map(e, "hb.more", L("hb.more"));
    check_map(e, "h", L("hb."));
    check_map(
        e, "a",
        L("alert.HU-RS.", "alert.HU-RS/", "alert.HR-RS.", "alert.HR-RS/"));
    check_map(e, "x", NOTHING);

    const sw_acl_entry_t *s = &acl->v[2]; /* HU-RS/roszke */
    check_map(s, "alert.HU-RS.", NOTHING);
    check_map(s, "alert.HU-RS",
              L("alert.HU-RS/roszke.", "alert.HU-RS/roszke/"));
    check_map(s, "alert.HU-RS/roszke.", L("alert.HU-RS/roszke."));
    sw_acl_free(&acl);
}

static void test_map_prefix_everything(void **state)
{
    (void)state;
    make_keys();
    char path[64];
    sw_acl_t *acl = load_std(path, sizeof(path));
    unlink(path);
    const sw_acl_entry_t *all = &acl->v[1];
    assert_int_equal(all->all, 1);
    static const char *const prefixes[] = {
        "", "alert.", "alert.RS-", "alert.HU-RS.", "alert.RS-XK.x", "hb.", "q",
    };
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        check_map(all, prefixes[i], L(prefixes[i]));
        check_map(NULL, prefixes[i], L(prefixes[i]));
    }
    sw_acl_free(&acl);
}

/* ------------------------------------------------------------ key files */

static mode_t mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

static void keypair(char pub[SW_Z85_KEY_LEN + 1], char sec[SW_Z85_KEY_LEN + 1])
{
    if (!zmq_has("curve"))
        skip();
    assert_int_equal(zmq_curve_keypair(pub, sec), 0);
}

static void test_curve_round_trip(void **state)
{
    tmp_t *t = *state;
    char pub[41], sec[41], p[41], s[41], err[512] = "";
    char spath[128], ppath[128];
    keypair(pub, sec);
    tmp_path(t, "hub.key_secret", spath, sizeof(spath));
    tmp_path(t, "hub.key", ppath, sizeof(ppath));

    if (sw_curve_save(spath, pub, sec, 0, err, sizeof(err)) != 0)
        fail_msg("save: %s", err);
    if (sw_curve_save(ppath, pub, NULL, 0, err, sizeof(err)) != 0)
        fail_msg("save: %s", err);
    assert_int_equal(mode_of(spath), 0600);
    assert_int_equal(mode_of(ppath), 0644);

    memset(p, 'x', sizeof(p));
    memset(s, 'x', sizeof(s));
    if (sw_curve_load(spath, p, s, 1, err, sizeof(err)) != 0)
        fail_msg("load: %s", err);
    assert_string_equal(p, pub);
    assert_string_equal(s, sec);
    if (sw_curve_load(spath, p, s, 0, err, sizeof(err)) != 0)
        fail_msg("load: %s", err);
    assert_string_equal(p, pub);
    assert_string_equal(s, sec);

    memset(s, 'x', sizeof(s));
    if (sw_curve_load(ppath, p, s, 0, err, sizeof(err)) != 0)
        fail_msg("load: %s", err);
    assert_string_equal(p, pub);
    assert_string_equal(s, "");
}

static void test_curve_public_only_needs_secret(void **state)
{
    tmp_t *t = *state;
    char pub[41], sec[41], p[41], s[41], err[512] = "";
    char path[128];
    keypair(pub, sec);
    tmp_path(t, "sub.key", path, sizeof(path));
    assert_int_equal(sw_curve_save(path, pub, NULL, 0, err, sizeof(err)), 0);
    err[0] = '\0';
    assert_int_equal(sw_curve_load(path, p, s, 1, err, sizeof(err)), -1);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "no secret key"));
    assert_non_null(strstr(err, "secret-key = \"...\""));
}

static void test_curve_no_overwrite_without_force(void **state)
{
    tmp_t *t = *state;
    char pub[41], sec[41], pub2[41], sec2[41], p[41], s[41], err[512] = "";
    char path[128];
    keypair(pub, sec);
    keypair(pub2, sec2);
    assert_string_not_equal(pub, pub2);
    tmp_path(t, "hub.key_secret", path, sizeof(path));
    assert_int_equal(sw_curve_save(path, pub, sec, 0, err, sizeof(err)), 0);

    err[0] = '\0';
    assert_int_equal(sw_curve_save(path, pub2, sec2, 0, err, sizeof(err)), -1);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "--force"));
    err[0] = '\0';
    assert_int_equal(sw_curve_save(path, pub2, NULL, 0, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "--force"));
    /* the file is untouched */
    assert_int_equal(sw_curve_load(path, p, s, 1, err, sizeof(err)), 0);
    assert_string_equal(p, pub);
    assert_string_equal(s, sec);
    assert_int_equal(mode_of(path), 0600);

    /* with force it is replaced */
    if (sw_curve_save(path, pub2, sec2, 1, err, sizeof(err)) != 0)
        fail_msg("save --force: %s", err);
    assert_int_equal(sw_curve_load(path, p, s, 1, err, sizeof(err)), 0);
    assert_string_equal(p, pub2);
    assert_string_equal(s, sec2);
    assert_int_equal(mode_of(path), 0600);
}

/* The header promises mode 0600 for a file with the secret key; that must
 * hold when --force replaces a file that was public (0644). */
static void test_curve_force_secret_over_public_is_0600(void **state)
{
    tmp_t *t = *state;
    char pub[41], sec[41], err[512] = "";
    char path[128];
    keypair(pub, sec);
    tmp_path(t, "hub.key", path, sizeof(path));
    assert_int_equal(sw_curve_save(path, pub, NULL, 0, err, sizeof(err)), 0);
    assert_int_equal(mode_of(path), 0644);
    if (sw_curve_save(path, pub, sec, 1, err, sizeof(err)) != 0)
        fail_msg("save --force: %s", err);
    if (mode_of(path) != 0600)
        fail_msg("a secret key file replaced with --force has mode %04o, "
                 "expected 0600 (the secret key is readable by others)",
                 (unsigned)mode_of(path));
}

static void test_curve_mismatched_keys(void **state)
{
    tmp_t *t = *state;
    char pub[41], sec[41], pub2[41], sec2[41], p[41], s[41], err[512] = "";
    char path[128], text[512];
    keypair(pub, sec);
    keypair(pub2, sec2);
    tmp_path(t, "mixed.key_secret", path, sizeof(path));
    snprintf(text, sizeof(text),
             "metadata\ncurve\n    public-key = \"%s\"\n"
             "    secret-key = \"%s\"\n",
             pub, sec2);
    write_file(path, text);
    for (int need = 0; need <= 1; need++) {
        err[0] = '\0';
        assert_int_equal(sw_curve_load(path, p, s, need, err, sizeof(err)), -1);
        assert_non_null(strstr(err, path));
        assert_non_null(strstr(err, "not the one of the secret key"));
    }
    /* the matching pair in the same layout is read */
    snprintf(text, sizeof(text),
             "metadata\ncurve\n    public-key = \"%s\"\n"
             "    secret-key = \"%s\"\n",
             pub2, sec2);
    write_file(path, text);
    assert_int_equal(sw_curve_load(path, p, s, 1, err, sizeof(err)), 0);
    assert_string_equal(p, pub2);
    assert_string_equal(s, sec2);
}

static void test_curve_bad_files(void **state)
{
    tmp_t *t = *state;
    char pub[41], sec[41], p[41], s[41], err[512] = "";
    char path[128], text[512];
    keypair(pub, sec);
    tmp_path(t, "bad.key", path, sizeof(path));

    /* no public key */
    write_file(path, "# nothing\nmetadata\ncurve\n");
    assert_int_equal(sw_curve_load(path, p, s, 0, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no public key"));
    /* a key that is not 40 Z85 characters */
    snprintf(text, sizeof(text), "curve\n    public-key = \"%.39s\"\n", pub);
    write_file(path, text);
    assert_int_equal(sw_curve_load(path, p, s, 0, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not 40 Z85 characters"));
    snprintf(text, sizeof(text),
             "curve\n    public-key = \"%s\"\n    secret-key = \"%.39s~\"\n",
             pub, sec);
    write_file(path, text);
    assert_int_equal(sw_curve_load(path, p, s, 0, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not 40 Z85 characters"));
    /* no file */
    tmp_path(t, "none.key", path, sizeof(path));
    assert_int_equal(sw_curve_load(path, p, s, 0, err, sizeof(err)), -1);
    assert_non_null(strstr(err, strerror(ENOENT)));
    /* a directory that does not exist */
    tmp_path(t, "no-dir/x.key", path, sizeof(path));
    assert_int_equal(sw_curve_save(path, pub, sec, 1, err, sizeof(err)), -1);
    assert_non_null(strstr(err, path));
}

/* The value of the line 'NAME = "..."' the way pyzmq's
 * zmq.auth.load_certificate reads it: the line stripped of whitespace,
 * '#' lines skipped, a line that starts with NAME split at its first '='
 * and the rest stripped of " \t'\"". Returns 1 when found. */
static int pyzmq_value(const char *path, const char *name, char *out,
                       size_t cap)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[512];
    int found = 0;
    while (fgets(line, sizeof(line), f)) {
        char *b = line, *e = line + strlen(line);
        while (*b && strchr(" \t\r\n\f\v", *b))
            b++;
        while (e > b && strchr(" \t\r\n\f\v", e[-1]))
            *--e = '\0';
        if (*b == '#' || strncmp(b, name, strlen(name)) != 0)
            continue;
        char *v = strchr(b, '=');
        assert_non_null(v); /* pyzmq would raise IndexError */
        v++;
        while (*v && strchr(" \t'\"", *v))
            v++;
        e = v + strlen(v);
        while (e > v && strchr(" \t'\"", e[-1]))
            *--e = '\0';
        snprintf(out, cap, "%s", v);
        found = 1;
    }
    fclose(f);
    return found;
}

static void test_curve_file_format(void **state)
{
    tmp_t *t = *state;
    char pub[41], sec[41], err[512] = "", v[128];
    char spath[128], ppath[128];
    keypair(pub, sec);
    tmp_path(t, "hub.key_secret", spath, sizeof(spath));
    tmp_path(t, "hub.key", ppath, sizeof(ppath));
    assert_int_equal(sw_curve_save(spath, pub, sec, 0, err, sizeof(err)), 0);
    assert_int_equal(sw_curve_save(ppath, pub, NULL, 0, err, sizeof(err)), 0);

    /* what pyzmq's load_certificate returns */
    assert_true(pyzmq_value(spath, "public-key", v, sizeof(v)));
    assert_string_equal(v, pub);
    assert_true(pyzmq_value(spath, "secret-key", v, sizeof(v)));
    assert_string_equal(v, sec);
    assert_true(pyzmq_value(ppath, "public-key", v, sizeof(v)));
    assert_string_equal(v, pub);
    assert_false(pyzmq_value(ppath, "secret-key", v, sizeof(v)));

    /* the exact lines of the czmq/pyzmq layout: comment banner, then
     * "metadata", "curve", and the indented keys */
    FILE *f = fopen(spath, "r");
    assert_non_null(f);
    char line[512], want_pub[96], want_sec[96];
    snprintf(want_pub, sizeof(want_pub), "    public-key = \"%s\"\n", pub);
    snprintf(want_sec, sizeof(want_sec), "    secret-key = \"%s\"\n", sec);
    int state_ = 0; /* 0 banner, 1 after metadata, 2 after curve, 3, 4 */
    while (fgets(line, sizeof(line), f)) {
        if (state_ == 0 && (line[0] == '#' || line[0] == '\n'))
            continue;
        if (state_ == 0 && strcmp(line, "metadata\n") == 0)
            state_ = 1;
        else if (state_ == 1 && strcmp(line, "curve\n") == 0)
            state_ = 2;
        else if (state_ == 2 && strcmp(line, want_pub) == 0)
            state_ = 3;
        else if (state_ == 3 && strcmp(line, want_sec) == 0)
            state_ = 4;
        else
            fail_msg("unexpected line (after part %d): %s", state_, line);
    }
    fclose(f);
    assert_int_equal(state_, 4);
}

/* A file as pyzmq's create_certificates writes it (a banner, metadata
 * entries) is read. */
static void test_curve_reads_pyzmq_files(void **state)
{
    tmp_t *t = *state;
    char pub[41], sec[41], p[41], s[41], err[512] = "", text[1024];
    char path[128];
    keypair(pub, sec);
    tmp_path(t, "client.key_secret", path, sizeof(path));
    snprintf(text, sizeof(text),
             "#   ****  Generated on 2024-01-02 03:04:05.678901 by pyzmq  "
             "****\n"
             "#   ZeroMQ CURVE **Secret** Certificate\n"
             "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its "
             "permissions.\n"
             "\n"
             "metadata\n"
             "    name = client\n"
             "curve\n"
             "    public-key = \"%s\"\n"
             "    secret-key = \"%s\"\n",
             pub, sec);
    write_file(path, text);
    if (sw_curve_load(path, p, s, 1, err, sizeof(err)) != 0)
        fail_msg("load: %s", err);
    assert_string_equal(p, pub);
    assert_string_equal(s, sec);
    /* single quotes and CRLF line ends */
    snprintf(text, sizeof(text),
             "metadata\r\ncurve\r\n\tpublic-key = '%s'\r\n"
             "\tsecret-key='%s'\r\n",
             pub, sec);
    write_file(path, text);
    if (sw_curve_load(path, p, s, 1, err, sizeof(err)) != 0)
        fail_msg("load: %s", err);
    assert_string_equal(p, pub);
    assert_string_equal(s, sec);
}

static void test_z85_key_valid(void **state)
{
    (void)state;
    make_keys();
    uint8_t b[32];
    assert_true(sw_z85_key_valid(K1, b));
    assert_memory_equal(b, B1, 32);
    assert_true(sw_z85_key_valid(K2, NULL));
    char k[64];
    snprintf(k, sizeof(k), "%.39s", K1);
    assert_false(sw_z85_key_valid(k, NULL));
    snprintf(k, sizeof(k), "%s0", K1);
    assert_false(sw_z85_key_valid(k, NULL));
    snprintf(k, sizeof(k), "%.39s ", K1);
    assert_false(sw_z85_key_valid(k, NULL));
    assert_false(sw_z85_key_valid("", NULL));
}

/* ------------------------------------------------------------------ main */

/* ------------------------------------------------------------- viewers */

/* sha256("abc"), the FIPS 180-2 example */
#define ABC_HASH                                                               \
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static void test_token_hash_is_sha256(void **state)
{
    (void)state;
    static const uint8_t want[32] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
        0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
        0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    uint8_t h[32];
    sw_token_hash("abc", 3, h);
    assert_memory_equal(h, want, 32);
}

static void test_viewers_load_and_find(void **state)
{
    (void)state;
    char path[128], err[512];
    char tok[SW_TOKEN_LEN + 1], hex[65];
    assert_int_equal(sw_token_new(tok, hex), 0);
    assert_int_equal(strlen(tok), SW_TOKEN_LEN);
    assert_int_equal(strlen(hex), 64);
    char text[1024];
    snprintf(text, sizeof(text),
             "# hash name role sections\n\n%s wall-hq viewer *\n"
             "%s centre-bud operator HU-RS,HR-RS # a comment\n",
             ABC_HASH, hex);
    temp_file(text, path, sizeof(path));
    sw_viewers_t *v = sw_viewers_load(path, err, sizeof(err));
    unlink(path);
    assert_non_null(v);
    assert_int_equal(v->n, 2);
    const sw_viewer_t *a = sw_viewers_find_token(v, "abc", 3);
    assert_non_null(a);
    assert_string_equal(a->acl.name, "wall-hq");
    assert_int_equal(a->role, SW_ROLE_VIEWER);
    assert_int_equal(a->acl.all, 1);
    const sw_viewer_t *b = sw_viewers_find_token(v, tok, strlen(tok));
    assert_non_null(b);
    assert_string_equal(b->acl.name, "centre-bud");
    assert_int_equal(b->role, SW_ROLE_OPERATOR);
    assert_int_equal(b->acl.nsections, 2);
    assert_true(sw_acl_topic_visible(&b->acl, "alert.HU-RS.", 12));
    assert_true(sw_acl_topic_visible(&b->acl, "alert.HU-RS/roszke.", 19));
    assert_false(sw_acl_topic_visible(&b->acl, "alert.GR-MK.", 12));
    /* a wrong token, a prefix of the right one, an empty one */
    assert_null(sw_viewers_find_token(v, "abd", 3));
    assert_null(sw_viewers_find_token(v, tok, strlen(tok) - 1));
    assert_null(sw_viewers_find_token(v, "", 0));
    assert_ptr_equal(sw_viewers_find_name(v, "centre-bud"), b);
    assert_null(sw_viewers_find_name(v, "nobody"));
    sw_viewers_free(&v);
    assert_null(v);
    /* two new tokens differ */
    char tok2[SW_TOKEN_LEN + 1], hex2[65];
    assert_int_equal(sw_token_new(tok2, hex2), 0);
    assert_string_not_equal(tok, tok2);
}

static void check_viewers_refused(const char *text, int line,
                                  const char *phrase)
{
    char path[128], err[512], want[64];
    temp_file(text, path, sizeof(path));
    sw_viewers_t *v = sw_viewers_load(path, err, sizeof(err));
    unlink(path);
    if (v != NULL)
        fail_msg("accepted: %s", text);
    snprintf(want, sizeof(want), ":%d: ", line);
    if (strstr(err, want) == NULL || strstr(err, phrase) == NULL)
        fail_msg("error '%s' lacks '%s' or '%s'", err, want, phrase);
}

static void test_viewers_refusals(void **state)
{
    (void)state;
    char t[1024];
    check_viewers_refused("abc wall viewer *\n", 1, "not a token hash");
    snprintf(t, sizeof(t), "%.63s wall viewer *\n", ABC_HASH);
    check_viewers_refused(t, 1, "not a token hash");
    snprintf(t, sizeof(t), "%.63sg wall viewer *\n", ABC_HASH);
    check_viewers_refused(t, 1, "not a token hash");
    snprintf(t, sizeof(t), "\n%s wall boss *\n", ABC_HASH);
    check_viewers_refused(t, 2, "unknown role (accepted: viewer, operator)");
    snprintf(t, sizeof(t), "%s wall viewer\n", ABC_HASH);
    check_viewers_refused(t, 1, "expected four fields");
    snprintf(t, sizeof(t), "%s wall viewer * extra\n", ABC_HASH);
    check_viewers_refused(t, 1, "expected four fields");
    snprintf(t, sizeof(t), "%s wa/ll viewer *\n", ABC_HASH);
    check_viewers_refused(t, 1, "bad name");
    snprintf(t, sizeof(t), "%s wall viewer HU-RS,nope\n", ABC_HASH);
    check_viewers_refused(t, 1, "bad section id");
    snprintf(t, sizeof(t), "%s a viewer *\n%s b viewer *\n", ABC_HASH,
             ABC_HASH);
    check_viewers_refused(t, 2, "listed twice");
    snprintf(t, sizeof(t),
             "%s a viewer *\n"
             "0000000000000000000000000000000000000000000000000000000000000000"
             " a viewer *\n",
             ABC_HASH);
    check_viewers_refused(t, 2, "used twice");
    char err[256];
    assert_null(sw_viewers_load("/nonexistent/viewers", err, sizeof(err)));
    assert_non_null(strstr(err, "No such file"));
    assert_int_equal(sw_role_parse("operator"), SW_ROLE_OPERATOR);
    assert_int_equal(sw_role_parse("viewer"), SW_ROLE_VIEWER);
    assert_int_equal(sw_role_parse("admin"), -1);
}

#define T(f) cmocka_unit_test(f)
#define TT(f) cmocka_unit_test_setup_teardown(f, tmp_setup, tmp_teardown)

int main(void)
{
    /* the modes the key files get do not depend on the caller's umask */
    umask(022);
    static const struct CMUnitTest tests[] = {
        T(test_load_standard_file),
        T(test_load_empty_and_comment_only),
        T(test_find_key),
        T(test_find_name),
        T(test_load_refusals),
        T(test_load_name_of_64_bytes),
        TT(test_load_missing_file),
        T(test_topic_visible),
        T(test_map_prefix_restricted),
        T(test_map_prefix_everything),
        TT(test_curve_round_trip),
        TT(test_curve_public_only_needs_secret),
        TT(test_curve_no_overwrite_without_force),
        TT(test_curve_force_secret_over_public_is_0600),
        TT(test_curve_mismatched_keys),
        TT(test_curve_bad_files),
        TT(test_curve_file_format),
        TT(test_curve_reads_pyzmq_files),
        T(test_z85_key_valid),
        T(test_token_hash_is_sha256),
        T(test_viewers_load_and_find),
        T(test_viewers_refusals),
    };
    return cmocka_run_group_tests_name("sw_acl", tests, NULL, NULL);
}
