/*
 * Fuzz target: `surgewatch ctl` argument handling (sw_cmd_ctl in
 * src/cmd_ctl.c), in-process. The input is split on NUL bytes into at most
 * MAX_ARGS arguments of at most ARG_MAX bytes each, after argv[0] "ctl".
 *
 * Nothing is ever changed anywhere:
 *  - every Redis connection goes to 127.0.0.1:1, which refuses it: the
 *    binary is linked with -Wl,--wrap=sw_redis_connect (Makefile), and
 *    __wrap_sw_redis_connect below hands any well-formed URL (from -r, the
 *    environment or a config file) to the real function as
 *    redis://127.0.0.1:1 (a malformed one as it is, which is refused
 *    before any connection). So every verb stops at its Redis step, after
 *    its arguments, options and config file have been checked;
 *  - files: the working directory is a temporary directory made at start
 *    (removed at exit) holding a few config, thresholds and event files
 *    the seeds name (c.ini, t.ini, bad.ini, e.jsonl; libFuzzer's own
 *    relative paths are made absolute before the move); an argument that
 *    could name a file elsewhere (an absolute path, alone or after '=' or
 *    an option letter, or anything with "..") has its '/' or '.' turned
 *    into '_'; the only file ctl writes (export -o) comes after Redis;
 *  - standard input is /dev/null (preview -e -), standard output and the
 *    stderr stream ctl prints to go to /dev/null; libFuzzer and the
 *    sanitizers keep the real standard error.
 */
#include "sw_cmd.h"
#include "sw_redis.h"

#include <fcntl.h>
#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_ARGS 16
#define ARG_MAX 256

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
redisContext *__real_sw_redis_connect(const char *url, int timeout_ms,
                                      char *errstr, size_t errstr_size);
redisContext *__wrap_sw_redis_connect(const char *url, int timeout_ms,
                                      char *errstr, size_t errstr_size);

#define CLOSED_PORT_URL "redis://127.0.0.1:1"

redisContext *__wrap_sw_redis_connect(const char *url, int timeout_ms,
                                      char *errstr, size_t errstr_size)
{
    if (url != NULL && sw_redis_url_valid(url))
        url = CLOSED_PORT_URL;
    redisContext *c =
        __real_sw_redis_connect(url, timeout_ms, errstr, errstr_size);
    if (c != NULL) /* something answered on port 1: never talk to it */
        __builtin_trap();
    return c;
}

static char workdir[256];

static void remove_workdir(void)
{
    static const char *const files[] = {"c.ini", "t.ini", "bad.ini", "e.jsonl"};
    if (workdir[0] == '\0')
        return;
    if (chdir("/") != 0)
        return;
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char p[400];
        snprintf(p, sizeof(p), "%s/%s", workdir, files[i]);
        unlink(p);
    }
    rmdir(workdir);
}

static void put_file(const char *name, const char *text)
{
    FILE *f = fopen(name, "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
        abort();
}

/* libFuzzer reads its inputs and writes its findings after this
 * directory change: its relative paths (inputs, corpus directories,
 * -artifact_prefix=, -exact_artifact_path=, -dict=) are made absolute
 * first. */
static void absolute_paths(int argc, char **argv)
{
    static const char *const flags[] = {
        "-artifact_prefix=", "-exact_artifact_path=", "-dict="};
    char cwd[4096];
    if (getcwd(cwd, sizeof(cwd)) == NULL)
        abort();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        size_t head = 0;
        for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]); f++)
            if (strncmp(a, flags[f], strlen(flags[f])) == 0)
                head = strlen(flags[f]);
        if ((head == 0 && a[0] == '-') || a[head] == '/' || a[head] == '\0')
            continue;
        size_t n = strlen(cwd) + strlen(a) + 2;
        char *abs = malloc(n); /* kept: argv lives as long as the process */
        if (abs == NULL)
            abort();
        snprintf(abs, n, "%.*s%s/%s", (int)head, a, cwd, a + head);
        argv[i] = abs;
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    absolute_paths(*argc, *argv);
    const char *tmp = getenv("TMPDIR");
    snprintf(workdir, sizeof(workdir), "%s/fuzz-ctl.XXXXXX",
             tmp && *tmp && strlen(tmp) < 200 ? tmp : "/tmp");
    if (mkdtemp(workdir) == NULL || chdir(workdir) != 0)
        abort();
    atexit(remove_workdir);
    put_file("c.ini", "[redis]\n"
                      "url = redis://127.0.0.1:6379/3\n"
                      "prefix = fz\n"
                      "timeout = 500ms\n"
                      "[windows]\n"
                      "bucket = 1d\n"
                      "lateness = 2d\n"
                      "[detectors]\n"
                      "run = ears_c2, cusum\n"
                      "threshold.limit = 40\n"
                      "[section HU-RS]\n"
                      "run = threshold\n"
                      "threshold.limit = 20\n");
    put_file("t.ini", "[detectors]\n"
                      "run = threshold, ewma\n"
                      "ewma.lambda = 0.9\n"
                      "[alerts]\n"
                      "levels = 1.5, 2.5, 4\n"
                      "[section HR-SI/karlovac]\n"
                      "threshold.limit = 12\n");
    put_file("bad.ini", "[detectors\nrun = nothing\n");
    put_file("e.jsonl", "{\"id\":\"e-1\",\"src\":\"HU\",\"section\":\"HU-RS\","
                        "\"ts\":1551441600000,\"type\":\"irregular_crossing\","
                        "\"count\":3}\n");
    /* the environment ctl reads: only what is set here */
    setenv("SURGEWATCH_REDIS_URL", CLOSED_PORT_URL, 1);
    setenv("SURGEWATCH_OPERATOR", "fuzz", 1);
    unsetenv("SURGEWATCH_CONFIG");
    unsetenv("SURGEWATCH_REDIS_PREFIX");
    unsetenv("SURGEWATCH_REDIS_TIMEOUT");
    int null = open("/dev/null", O_RDWR);
    if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0)
        abort();
    close(null);
    /* ctl prints to the stderr stream; libFuzzer keeps its own copy of the
     * old one, and the sanitizers write to fd 2 */
    FILE *quiet = fopen("/dev/null", "w");
    if (quiet == NULL)
        abort();
    stderr = quiet;
    return 0;
}

/* Turns what could name a file outside the working directory into a name
 * inside it (see the top of the file). */
static void confine(char *a)
{
    if (strstr(a, "..") != NULL)
        for (char *p = a; *p; p++)
            if (*p == '.')
                *p = '_';
    int option = a[0] == '-';
    for (char *p = a; *p; p++)
        if (*p == '/' && (p == a || option || p[-1] == '='))
            *p = '_';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *argv[MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = strdup("ctl");
    size_t i = 0;
    while (i < size && argc < MAX_ARGS + 1) {
        const uint8_t *nul = memchr(data + i, '\0', size - i);
        size_t n = (size_t)((nul ? nul : data + size) - (data + i));
        size_t keep = n < ARG_MAX ? n : ARG_MAX;
        char *a = malloc(keep + 1);
        if (a == NULL)
            break;
        memcpy(a, data + i, keep);
        a[keep] = '\0';
        confine(a);
        argv[argc++] = a;
        i += n + 1;
    }
    argv[argc] = NULL;
    char *copy[MAX_ARGS + 2];
    memcpy(copy, argv, sizeof(copy)); /* getopt permutes argv */

    /* glibc's getopt keeps a pointer into the previous argv; ctl sets
     * optind = 1, which does not reset it: a first call with optind = 0
     * on an empty argument list does (as in a fresh process) */
    static char prog[] = "ctl";
    char *empty[] = {prog, NULL};
    optind = 0;
    getopt_long(1, empty, "", NULL, NULL);

    int rc = sw_cmd_ctl(argc, argv);
    if (rc != SW_EXIT_OK && rc != SW_EXIT_REJECTED && rc != SW_EXIT_USAGE &&
        rc != SW_EXIT_UNAVAILABLE)
        __builtin_trap();
    for (int k = 0; k < argc; k++)
        free(copy[k]);
    return 0;
}
