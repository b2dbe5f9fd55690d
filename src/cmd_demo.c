/*
 * surgewatch demo: the whole pipeline on one machine, on the Western
 * Balkans scenario (sw_demo_scenario), with a live view in the terminal.
 *
 * One process starts and owns everything:
 *   - an in-process Kafka cluster (librdkafka's mock cluster, no Java): the
 *     events topic (4 partitions) and its dead-letter topic;
 *   - a redis-server from PATH on a free loopback port, in a temporary
 *     directory, without persistence;
 *   - three children of this binary (/proc/self/exe): `run` (the worker),
 *     `hub` and `subscribe`, whose JSON lines come back on a pipe.
 * It then publishes the scenario's events day by day, paced (--speed days
 * per second), draws the view (or passes the subscriber's lines through
 * with --json), waits at the end until the worker has processed every
 * event and the subscriber has delivered every alert transition the worker
 * wrote, and stops everything.
 *
 * Nothing is left behind: every child is in a process group of its own
 * (Ctrl-C reaches only the demo, which stops the children in order:
 * SIGTERM, up to 10 s, then SIGKILL; redis-server last), every child has
 * PR_SET_PDEATHSIG = SIGKILL (a demo killed with SIGKILL takes them with
 * it), every descriptor of the demo is closed in the children, and the
 * temporary directory is removed (a directory left by a demo that was
 * killed is removed by the next demo, once its pid is gone).
 *
 * Hidden options, for the tests: --truth prints the scenario's ground
 * truth as one JSON object; --dump-events writes the events the demo would
 * publish (msgpack, as `surgewatch backtest -f msgpack` reads them);
 * --print-config prints the detection settings the worker gets.
 */
#include "sw_acl.h"
#include "sw_alert_wire.h"
#include "sw_cmd.h"
#include "sw_cmd_settings.h"
#include "sw_config.h"
#include "sw_demo_scenario.h"
#include "sw_event.h"
#include "sw_http.h"
#include "sw_log.h"
#include "sw_producer.h"
#include "sw_time.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define TOPIC "border-events"
#define PARTITIONS 4
#define WARMUP_DAYS 35
#define STOP_WAIT_MS 10000
#define READY_WAIT_MS 90000
#define DRAIN_WAIT_MS 60000
#define REDIS_WAIT_MS 15000
#define START_TRIES 4
#define RECENT_MAX 64
#define ACTIVE_MAX 128
#define RAISED_MAX 4096
#define LINE_MAX_BYTES 16384

static const char help[] =
    "usage: surgewatch demo [OPTIONS]\n"
    "\n"
    "Runs the whole pipeline on this machine on a realistic scenario and\n"
    "shows it live: the Western Balkans 2018-2020 (tests/scenario: seven\n"
    "border sections, the March 2019 surges, the February 2020 GR-MK surge,\n"
    "the March 2020 collapse), time compressed. The demo starts an embedded\n"
    "Kafka (librdkafka's mock cluster: no Java), a redis-server from PATH\n"
    "on a free loopback port with a temporary directory, a worker (`run`),\n"
    "a hub and a subscriber; publishes the scenario's events day by day;\n"
    "and shows each section's count against the expected one, and every\n"
    "alert as it is raised, updated and resolved, with its level. At the\n"
    "end (or on Ctrl-C) it stops everything it started and removes its\n"
    "temporary files.\n"
    "\n"
    "Replay:\n"
    "      --from DATE          first day shown, YYYY-MM-DD (default\n"
    "                           2018-10-01); the five weeks before it are\n"
    "                           published at once first, as the detectors'\n"
    "                           baseline\n"
    "      --to DATE            last day (default 2020-05-31); both within\n"
    "                           the scenario, 2018-10-01..2020-05-31\n"
    "      --speed N            simulated days per second, 0.1..1000\n"
    "                           (default 5: the whole scenario in about two\n"
    "                           minutes)\n"
    "      --seed N             the scenario's random seed (default 3, a\n"
    "                           draw in which every surge is raised on its\n"
    "                           first day); the same seed, the same events\n"
    "\n"
    "Output:\n"
    "      --view               the live terminal view (the default when\n"
    "                           standard output is a terminal)\n"
    "      --json               no view: one JSON line per alert\n"
    "                           transition, exactly as `surgewatch\n"
    "                           subscribe` prints it (the default when\n"
    "                           standard output is not a terminal); a\n"
    "                           summary line on standard error at the end\n"
    "      --no-color           no colours (also when NO_COLOR is set or\n"
    "                           TERM=dumb)\n"
    "      --web HOST:PORT      also serve the hub's web view (the\n"
    "                           situational picture, docs/web.md) there;\n"
    "                           PORT 0 picks a free one; the address is\n"
    "                           printed\n"
    "      --web-viewers FILE   the web view's viewers file (tokens from\n"
    "                           'surgewatch keygen --web-token'); without\n"
    "                           it the web view has no access control\n"
    "      --keep-temp          keep the temporary directory (the config\n"
    "                           file and every component's log) and print\n"
    "                           where it is\n"
    "  -h, --help               this text\n"
    "\n"
    "Needs redis-server in PATH (apt-get install redis-server, or\n"
    "scripts/install-deps). Uses only loopback ports chosen free.\n"
    "\n"
    "Exit status: 0 the replay ended, every alert was delivered and\n"
    "everything stopped; 1 a component died during the replay (its log is\n"
    "shown) or the last alerts did not arrive within a minute; 2 bad\n"
    "options; 3 a component could not start (redis-server missing, a child\n"
    "exited at start); 130 interrupted (Ctrl-C, SIGTERM, SIGHUP), everything\n"
    "stopped.\n"
    "\n"
    "Examples:\n"
    "  surgewatch demo\n"
    "  surgewatch demo --from 2019-02-01 --to 2019-06-30 --speed 2\n"
    "  surgewatch demo --json | jq -c 'select(.state == \"raised\")'\n";

/* The detection settings of tests/scenario/scenario.ini (the reasons for
 * each value are explained there). */
static const char demo_config[] =
    "; surgewatch demo: the detection settings of tests/scenario/"
    "scenario.ini\n"
    "[windows]\n"
    "bucket = 1d\n"
    "lateness = 24h\n"
    "by_type = false\n"
    "\n"
    "[alerts]\n"
    "raise_after = 1\n"
    "resolve_after = 2\n"
    "\n"
    "[detectors]\n"
    "run = ears_c2, cusum\n"
    "ears_c2.baseline = 28\n"
    "ears_c2.alpha = 0.000001\n"
    "ears_c2.min_count = 10\n"
    "cusum.k = 1.5\n"
    "cusum.h = 4\n"
    "cusum.baseline = 28\n"
    "cusum.guard = 2\n"
    "cusum.history = 28\n"
    "cusum.reset = false\n"
    "cusum.min_count = 10\n"
    "\n"
    "[section GR-MK]\n"
    "ears_c2.alpha = 0.0000001\n"
    "ears_c2.min_sigma = 6\n"
    "ears_c2.min_count = 40\n"
    "cusum.min_count = 40\n"
    "\n"
    "[section HU-RS]\n"
    "ears_c2.min_sigma = 2.2\n"
    "ears_c2.min_count = 20\n"
    "cusum.min_count = 20\n"
    "\n"
    "[section HR-RS]\n"
    "ears_c2.min_sigma = 1.2\n"
    "\n"
    "[section HR-SI]\n"
    "ears_c2.min_sigma = 3.2\n"
    "ears_c2.min_count = 25\n"
    "cusum.min_count = 25\n"
    "\n"
    "[section BA-HR]\n"
    "ears_c2.min_sigma = 3.5\n"
    "ears_c2.min_count = 20\n"
    "cusum.min_count = 20\n"
    "\n"
    "[section BA-RS]\n"
    "ears_c2.min_sigma = 2.8\n"
    "ears_c2.min_count = 18\n"
    "cusum.min_count = 18\n"
    "\n"
    "[section AL-GR]\n"
    "ears_c2.min_sigma = 4.5\n"
    "ears_c2.min_count = 45\n"
    "cusum.min_count = 45\n";

/* ------------------------------------------------------------ state */

enum { C_REDIS, C_HUB, C_WORKER, C_SUB, C_N };
static const char *const child_name[C_N] = {"redis-server", "hub", "worker",
                                            "subscriber"};

typedef struct child {
    pid_t pid; /* 0: not running (never started or reaped) */
    int status;
    char log[320];
} child_t;

enum { P_START, P_REPLAY, P_DRAIN, P_STOP, P_DONE };

typedef struct metrics {
    int ok; /* the last scrape worked */
    uint64_t consumed, alerts, pending, owned, rejected;
} metrics_t;

typedef struct active {
    char alert_id[SW_ALERT_ID_MAX];
    int section;
    sw_detector_kind_t detector;
    sw_level_t level;
} active_t;

typedef struct recent {
    int32_t day;
    sw_alert_state_t state;
    char section[SW_SECTION_MAX + 1];
    sw_detector_kind_t detector;
    sw_level_t level;
    double observed, expected;
} recent_t;

typedef struct raised {
    int section;
    int32_t day;
    sw_level_t level;
} raised_t;

typedef struct demo {
    /* options */
    int32_t from, to, warm_from;
    double speed;
    uint64_t seed;
    int json, color, keep;
    char web[128]; /* --web as given, or "" */
    char web_viewers[PATH_MAX];
    char web_url[160]; /* http://HOST:PORT/ once known */

    /* where things are */
    char exe[PATH_MAX], redis_bin[PATH_MAX], tmp[256], config[320];
    char **envp; /* the environment of the children */
    FILE *uerr;  /* the user's standard error */
    int saved_err;

    /* components */
    child_t ch[C_N];
    int redis_port, pub_port, replay_port, metrics_port;
    rd_kafka_t *mock_rk;
    rd_kafka_mock_cluster_t *mc;
    char bootstraps[512];
    sw_producer_t *prod;
    int sub_fd;
    char line[LINE_MAX_BYTES];
    size_t linelen;
    int line_overflow;

    /* the replay */
    sw_demo_gen_t *gen;
    int32_t day;    /* the day being published (the open day) */
    int32_t closed; /* the last closed day, or INT32_MIN */
    uint32_t persons_open[SW_DEMO_NSECTIONS], persons_closed[SW_DEMO_NSECTIONS];
    uint64_t published, events_total;
    int64_t t0_ns, replay_ns, next_day_ns;
    int64_t drain_deadline_ns;

    /* the worker's /metrics */
    metrics_t m;
    int64_t next_scrape_ns;

    /* alerts */
    active_t active[ACTIVE_MAX];
    int nactive;
    recent_t recent[RECENT_MAX];
    int nrecent, recent_head;
    raised_t raised[RAISED_MAX];
    int nraised;
    uint64_t transitions, max_seq, bad_lines;
    uint64_t by_state[3];

    /* the view */
    int phase;
    char status[200];
    int64_t next_draw_ns;
    int dirty, view_on;

    /* the end */
    int failed;     /* exit status when something failed, else 0 */
    int drain_late; /* stopped waiting for the last alerts */
    int stdout_gone;
    char held[16384]; /* messages held while the view is on */
} demo_t;

static volatile sig_atomic_t interrupts;

static void on_signal(int sig)
{
    (void)sig;
    if (interrupts < 100)
        interrupts++;
}

static int64_t mono_ns(void)
{
    return sw_clock_mono_ns();
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A message for the user, on the user's standard error (the view sends
 * the demo's own standard error to a log file). */
static void say(demo_t *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void say(demo_t *d, const char *fmt, ...)
{
    char msg[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (d->view_on) { /* after the view, not over it */
        size_t n = strlen(d->held), k = strlen(msg);
        if (n + k + 20 < sizeof(d->held))
            snprintf(d->held + n, sizeof(d->held) - n, "surgewatch demo: %s\n",
                     msg);
        return;
    }
    FILE *f = d->uerr ? d->uerr : stderr;
    fprintf(f, "surgewatch demo: %s\n", msg);
    fflush(f);
}

static void set_status(demo_t *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_status(demo_t *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->status, sizeof(d->status), fmt, ap);
    va_end(ap);
    d->dirty = 1;
}

/* ------------------------------------------------------ temp files */

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (flag == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

static void rm_tree(const char *path)
{
    if (path[0])
        nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *tmp_root(void)
{
    const char *t = getenv("TMPDIR");
    return t && t[0] == '/' && strlen(t) < 200 ? t : "/tmp";
}

/* Removes the directories of demos that were killed (their pid file
 * names a process that is gone). Only this user's. */
static void clean_stale(void)
{
    const char *root = tmp_root();
    DIR *dir = opendir(root);
    if (dir == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (strncmp(e->d_name, "surgewatch-demo.", 16) != 0)
            continue;
        char p[PATH_MAX], pidf[PATH_MAX + 16];
        snprintf(p, sizeof(p), "%s/%s", root, e->d_name);
        struct stat st;
        if (lstat(p, &st) || !S_ISDIR(st.st_mode) || st.st_uid != getuid())
            continue;
        snprintf(pidf, sizeof(pidf), "%s/demo.pid", p);
        FILE *f = fopen(pidf, "r");
        long pid = 0;
        if (f == NULL)
            continue; /* not ours, or starting: leave it */
        int ok = fscanf(f, "%ld", &pid) == 1 && pid > 1;
        fclose(f);
        if (ok && kill((pid_t)pid, 0) != 0 && errno == ESRCH)
            rm_tree(p);
    }
    closedir(dir);
}

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    size_t n = strlen(text), off = 0;
    while (off < n) {
        ssize_t w = write(fd, text + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            close(fd);
            return -1;
        }
        off += (size_t)w;
    }
    return close(fd);
}

/* The last lines of a log file, indented, into out. */
static void log_tail(const char *path, int lines, char *out, size_t cap)
{
    out[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(out, cap, "    (no log: %s)", strerror(errno));
        return;
    }
    char buf[8192];
    off_t end = lseek(fd, 0, SEEK_END);
    off_t start =
        end > (off_t)sizeof(buf) - 1 ? end - (off_t)sizeof(buf) + 1 : 0;
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, start);
    close(fd);
    if (n <= 0) {
        snprintf(out, cap, "    (the log is empty)");
        return;
    }
    buf[n] = '\0';
    while (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    char *p = buf + n;
    int seen = 0;
    while (p > buf && seen < lines) {
        p--;
        if (*p == '\n')
            seen++;
    }
    if (*p == '\n')
        p++;
    size_t len = 0;
    for (char *save = NULL, *l = strtok_r(p, "\n", &save); l && len + 8 < cap;
         l = strtok_r(NULL, "\n", &save))
        len += (size_t)snprintf(out + len, cap - len, "%s    %s",
                                len ? "\n" : "", l);
}

/* ------------------------------------------------------ processes */

/* A port on 127.0.0.1 that is free now (the kernel's choice). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof(a);
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &al) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static int find_in_path(const char *name, char *out, size_t cap)
{
    const char *path = getenv("PATH");
    if (path == NULL || *path == '\0')
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const char *c = strchr(path, ':');
        size_t n = c ? (size_t)(c - path) : strlen(path);
        if (n > 0 && n + strlen(name) + 2 <= cap) {
            snprintf(out, cap, "%.*s/%s", (int)n, path, name);
            struct stat st;
            if (stat(out, &st) == 0 && S_ISREG(st.st_mode) &&
                access(out, X_OK) == 0)
                return 0;
        }
        path += n + (c != NULL);
    }
    return -1;
}

/* The children's environment: the demo's, without SURGEWATCH_* (the
 * demo gives every setting as a flag, and nothing of the user's
 * configuration may reach its private servers). */
static char **child_env(void)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 1, sizeof(*env));
    if (env == NULL)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "SURGEWATCH_", 11) != 0)
            env[k++] = environ[i];
    env[k] = NULL;
    return env;
}

/* Starts path with argv; standard output to out_fd (-1: the log), standard
 * error to the child's log, standard input from /dev/null. The child gets
 * a process group of its own and dies with the demo. Returns 0 or -1. */
static int spawn(demo_t *d, int which, const char *path, char *const argv[],
                 int out_fd)
{
    child_t *c = &d->ch[which];
    int logfd = open(c->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (logfd < 0 || nullfd < 0) {
        say(d, "cannot open %s: %s", c->log, strerror(errno));
        if (logfd >= 0)
            close(logfd);
        if (nullfd >= 0)
            close(nullfd);
        return -1;
    }
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        /* the child: async-signal-safe calls only until exec (the demo
         * has threads: librdkafka's) */
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127); /* the demo is gone already */
        struct sigaction dfl;
        memset(&dfl, 0, sizeof(dfl));
        dfl.sa_handler = SIG_DFL;
        static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE};
        for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
            sigaction(sigs[i], &dfl, NULL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (dup2(nullfd, 0) < 0 || dup2(out_fd >= 0 ? out_fd : logfd, 1) < 0 ||
            dup2(logfd, 2) < 0)
            _exit(127);
        /* nothing else of the demo's: sockets of the mock cluster, pipes */
        if (syscall(SYS_close_range, 3U, ~0U, 0) != 0)
            for (int fd = 3; fd < 4096; fd++)
                close(fd);
        execve(path, argv, d->envp);
        static const char msg[] = "surgewatch demo: exec failed\n";
        ssize_t ignored = write(2, msg, sizeof(msg) - 1);
        (void)ignored;
        _exit(127);
    }
    close(logfd);
    close(nullfd);
    if (pid < 0) {
        say(d, "cannot start the %s: fork: %s", child_name[which],
            strerror(errno));
        return -1;
    }
    setpgid(pid, pid); /* also from here: no race with a signal */
    c->pid = pid;
    c->status = 0;
    return 0;
}

/* Reaps the child when it has exited. Returns 1 when it is (now) gone. */
static int reap(demo_t *d, int which)
{
    child_t *c = &d->ch[which];
    if (c->pid <= 0)
        return 1;
    int st;
    pid_t r = waitpid(c->pid, &st, WNOHANG);
    if (r == c->pid || (r < 0 && errno == ECHILD)) {
        c->status = r == c->pid ? st : 0;
        c->pid = 0;
        return 1;
    }
    return 0;
}

static void describe_exit(int status, char *out, size_t cap)
{
    if (WIFEXITED(status))
        snprintf(out, cap, "exit status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, cap, "killed by signal %d", WTERMSIG(status));
    else
        snprintf(out, cap, "status %d", status);
}

/* "the worker exited (exit status 1): last lines of its log: ..." */
static void report_death(demo_t *d, int which, const char *when)
{
    char how[64], tail[4096];
    describe_exit(d->ch[which].status, how, sizeof(how));
    log_tail(d->ch[which].log, 12, tail, sizeof(tail));
    say(d, "the %s exited %s (%s); last lines of its log (%s):\n%s",
        child_name[which], when, how, d->ch[which].log, tail);
}

/* Stops the given children: SIGTERM, up to STOP_WAIT_MS, then SIGKILL (at
 * once on a second Ctrl-C). Reads the subscriber's pipe meanwhile, so
 * that it never blocks on a full pipe. */
static void handle_sub_output(demo_t *d);
static void stop_children(demo_t *d, const int *which, int n)
{
    int any = 0;
    for (int i = 0; i < n; i++)
        if (d->ch[which[i]].pid > 0 && !reap(d, which[i])) {
            kill(d->ch[which[i]].pid, SIGTERM);
            any = 1;
        }
    if (!any)
        return;
    int64_t deadline = mono_ns() + (int64_t)STOP_WAIT_MS * 1000000;
    for (;;) {
        int alive = 0;
        for (int i = 0; i < n; i++)
            alive += !reap(d, which[i]);
        if (!alive)
            return;
        if (mono_ns() >= deadline || interrupts >= 2)
            break; /* a second Ctrl-C: no more waiting */
        if (d->sub_fd >= 0)
            handle_sub_output(d);
        sleep_ms(20);
    }
    for (int i = 0; i < n; i++) {
        child_t *c = &d->ch[which[i]];
        if (c->pid > 0) {
            kill(c->pid, SIGKILL);
            int st;
            if (waitpid(c->pid, &st, 0) == c->pid)
                c->status = st;
            c->pid = 0;
        }
    }
}

/* ------------------------------------------------------- loopback */

/* Sends req to 127.0.0.1:port and reads the answer (until EOF, or the
 * first line break when eol) into resp. Returns its length or -1. */
static ssize_t tcp_exchange(int port, const char *req, char *resp, size_t cap,
                            int timeout_ms, int eol)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    int64_t deadline = mono_ns() + (int64_t)timeout_ms * 1000000;
    ssize_t got = -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 &&
        errno != EINPROGRESS)
        goto out;
    struct pollfd p = {fd, POLLOUT, 0};
    if (poll(&p, 1, timeout_ms) != 1)
        goto out;
    int err = 0;
    socklen_t el = sizeof(err);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) || err)
        goto out;
    size_t len = strlen(req), off = 0;
    while (off < len) {
        ssize_t w = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            p.events = POLLOUT;
            if (poll(&p, 1, 100) < 0 && errno != EINTR)
                goto out;
            if (mono_ns() > deadline)
                goto out;
            continue;
        }
        if (w <= 0)
            goto out;
        off += (size_t)w;
    }
    size_t n = 0;
    for (;;) {
        int64_t left = (deadline - mono_ns()) / 1000000;
        if (left <= 0)
            goto out;
        p.events = POLLIN;
        int pr = poll(&p, 1, (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            goto out;
        ssize_t r = recv(fd, resp + n, cap - 1 - n, 0);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (r < 0)
            goto out;
        n += (size_t)r;
        resp[n] = '\0';
        if (r == 0 || n + 1 >= cap || (eol && memchr(resp, '\n', n)))
            break;
    }
    got = (ssize_t)n;
out:
    close(fd);
    return got;
}

/* The sum of the samples of a metric (every label set). */
static uint64_t metric_sum(const char *text, const char *name, int *found)
{
    size_t nl = strlen(name);
    double sum = 0;
    *found = 0;
    for (const char *l = text; l && *l;) {
        const char *next = strchr(l, '\n');
        next = next ? next + 1 : NULL;
        if (*l == '#' || strncmp(l, name, nl) != 0 ||
            (l[nl] != ' ' && l[nl] != '{')) {
            l = next;
            continue;
        }
        const char *v = l + nl;
        if (*v == '{') {
            v = strchr(v, '}');
            if (v == NULL) {
                l = next;
                continue;
            }
            v++;
        }
        sum += strtod(v, NULL);
        *found = 1;
        l = next;
    }
    return sum > 0 ? (uint64_t)(sum + 0.5) : 0;
}

/* Reads the worker's /metrics. Returns 0 or -1. */
static int scrape(demo_t *d)
{
    static char buf[256 * 1024];
    char req[128];
    snprintf(req, sizeof(req),
             "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n\r\n",
             d->metrics_port);
    ssize_t n = tcp_exchange(d->metrics_port, req, buf, sizeof(buf), 2000, 0);
    if (n <= 0 || strncmp(buf, "HTTP/1.", 7) != 0 ||
        strstr(buf, " 200 ") == NULL) {
        d->m.ok = 0;
        return -1;
    }
    int f1, f2, f3, f4, f5;
    metrics_t m = {0};
    m.consumed = metric_sum(buf, "surgewatch_events_consumed_total", &f1);
    m.alerts = metric_sum(buf, "surgewatch_alerts_total", &f2);
    m.pending = metric_sum(buf, "surgewatch_alerts_pending", &f3);
    m.owned = metric_sum(buf, "surgewatch_partitions_owned", &f4);
    m.rejected = metric_sum(buf, "surgewatch_events_rejected_total", &f5);
    m.ok = f1 && f2 && f3 && f4;
    if (m.ok) {
        d->m = m;
        d->dirty = 1;
    }
    return m.ok ? 0 : -1;
}

/* ------------------------------------------------------ components */

static int start_redis(demo_t *d)
{
    char dir[PATH_MAX + 8], port[16];
    snprintf(dir, sizeof(dir), "%s/redis", d->tmp);
    if (mkdir(dir, 0700) && errno != EEXIST) {
        say(d, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    for (int attempt = 1; attempt <= START_TRIES; attempt++) {
        set_status(d, "starting: redis-server");
        d->redis_port = free_port();
        snprintf(port, sizeof(port), "%d", d->redis_port);
        char *argv[] = {"redis-server",
                        "--port",
                        port,
                        "--bind",
                        "127.0.0.1",
                        "--dir",
                        dir,
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                        "--daemonize",
                        "no",
                        "--protected-mode",
                        "yes",
                        "--databases",
                        "1",
                        NULL};
        if (d->redis_port <= 0 || spawn(d, C_REDIS, d->redis_bin, argv, -1))
            return -1;
        int64_t deadline = mono_ns() + (int64_t)REDIS_WAIT_MS * 1000000;
        while (!interrupts && mono_ns() < deadline) {
            char resp[64];
            if (tcp_exchange(d->redis_port, "PING\r\n", resp, sizeof(resp), 500,
                             1) > 0 &&
                strncmp(resp, "+PONG", 5) == 0)
                return 0;
            if (reap(d, C_REDIS))
                break;
            sleep_ms(50);
        }
        if (interrupts)
            return -1;
        if (d->ch[C_REDIS].pid > 0) {
            int w[] = {C_REDIS};
            stop_children(d, w, 1);
            say(d, "redis-server on 127.0.0.1:%d did not answer PING in %d s",
                d->redis_port, REDIS_WAIT_MS / 1000);
            return -1;
        }
        if (attempt == START_TRIES)
            break;
    }
    report_death(d, C_REDIS, "at start");
    return -1;
}

static int start_kafka(demo_t *d)
{
    set_status(d, "starting: the embedded Kafka cluster");
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, sw_kafka_log_cb);
    d->mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (d->mock_rk == NULL) {
        say(d, "cannot create the Kafka client of the mock cluster: %s", err);
        return -1;
    }
    d->mc = rd_kafka_mock_cluster_new(d->mock_rk, 1);
    if (d->mc == NULL) {
        say(d, "cannot create librdkafka's mock cluster");
        return -1;
    }
    rd_kafka_resp_err_t e1 =
        rd_kafka_mock_topic_create(d->mc, TOPIC, PARTITIONS, 1);
    rd_kafka_resp_err_t e2 =
        rd_kafka_mock_topic_create(d->mc, TOPIC ".dlq", 1, 1);
    if (e1 || e2) {
        say(d, "cannot create the topics in the mock cluster: %s",
            rd_kafka_err2str(e1 ? e1 : e2));
        return -1;
    }
    snprintf(d->bootstraps, sizeof(d->bootstraps), "%s",
             rd_kafka_mock_cluster_bootstraps(d->mc));
    sw_props_t props = {0};
    sw_props_set(&props, "bootstrap.servers", d->bootstraps, "demo");
    sw_props_set(&props, "client.id", "surgewatch-demo", "demo");
    d->prod = sw_producer_new(&props, TOPIC, err, sizeof(err));
    sw_props_deinit(&props);
    if (d->prod == NULL) {
        say(d, "cannot create the producer: %s", err);
        return -1;
    }
    return 0;
}

static int start_hub(demo_t *d)
{
    char redis[64], pub[64], replay[64];
    d->pub_port = free_port();
    d->replay_port = free_port();
    if (d->pub_port <= 0 || d->replay_port <= 0 ||
        d->pub_port == d->replay_port) {
        say(d, "no free loopback port for the hub");
        return -1;
    }
    snprintf(redis, sizeof(redis), "redis://127.0.0.1:%d", d->redis_port);
    snprintf(pub, sizeof(pub), "tcp://127.0.0.1:%d", d->pub_port);
    snprintf(replay, sizeof(replay), "tcp://127.0.0.1:%d", d->replay_port);
    char *argv[20] = {"surgewatch", "hub",      "-r",      redis, "--pub",
                      pub,          "--replay", replay,    "-m",  "off",
                      "--name",     "demo-hub", "--start", "1",   NULL};
    char web[160];
    if (d->web[0]) {
        /* a fixed port for the children: the first hub's if it restarts */
        if (d->web_url[0] == '\0') {
            const char *colon = strrchr(d->web, ':');
            int port = atoi(colon + 1);
            if (port == 0)
                port = free_port();
            if (port <= 0) {
                say(d, "no free loopback port for the web view");
                return -1;
            }
            snprintf(d->web_url, sizeof(d->web_url), "http://%.*s:%d/",
                     (int)(colon - d->web), d->web, port);
            if (strncmp(d->web, "*:", 2) == 0)
                snprintf(d->web_url, sizeof(d->web_url), "http://127.0.0.1:%d/",
                         port);
        }
        const char *colon = strrchr(d->web, ':');
        const char *port = strrchr(d->web_url, ':') + 1;
        snprintf(web, sizeof(web), "%.*s:%.*s", (int)(colon - d->web), d->web,
                 (int)strcspn(port, "/"), port);
        int i = 14;
        argv[i++] = "--web";
        argv[i++] = web;
        if (d->web_viewers[0]) {
            argv[i++] = "--web-viewers";
            argv[i++] = d->web_viewers;
        }
        argv[i] = NULL;
    }
    return spawn(d, C_HUB, d->exe, argv, -1);
}

static int start_worker(demo_t *d)
{
    char redis[64], metrics[64];
    d->metrics_port = free_port();
    if (d->metrics_port <= 0) {
        say(d, "no free loopback port for the worker's /metrics");
        return -1;
    }
    snprintf(redis, sizeof(redis), "redis://127.0.0.1:%d", d->redis_port);
    snprintf(metrics, sizeof(metrics), "127.0.0.1:%d", d->metrics_port);
    char *argv[] = {
        "surgewatch", "run",
        "-b",         d->bootstraps,
        "-t",         TOPIC,
        "-c",         d->config,
        "-r",         redis,
        "-m",         metrics,
        "-g",         "surgewatch-demo",
        "-X",         "session.timeout.ms=6000",
        "-X",         "partition.assignment.strategy=cooperative-sticky",
        NULL};
    return spawn(d, C_WORKER, d->exe, argv, -1);
}

static int start_subscriber(demo_t *d)
{
    char hub[160];
    snprintf(hub, sizeof(hub), "tcp://127.0.0.1:%d,tcp://127.0.0.1:%d",
             d->pub_port, d->replay_port);
    int p[2];
    if (pipe2(p, O_CLOEXEC)) {
        say(d, "pipe: %s", strerror(errno));
        return -1;
    }
    char *argv[] = {"surgewatch", "subscribe", "-H", hub,
                    "--from-seq", "1",         NULL};
    int rc = spawn(d, C_SUB, d->exe, argv, p[1]);
    close(p[1]);
    if (rc) {
        close(p[0]);
        return -1;
    }
    fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
    d->sub_fd = p[0];
    return 0;
}

static void draw(demo_t *d, int force);

/* Starts the hub and the worker, waits until the worker owns every
 * partition (a child that exits meanwhile, e.g. on a port taken between
 * the choice and its bind, is started again on new ports), then the
 * subscriber. Returns 0 or -1. */
/* A child that died while starting (a port taken between choosing and
 * binding, say) is started again, up to START_TRIES times. Returns -1
 * when it cannot be (reported). */
static int restart_dead(demo_t *d, int which, int *tries,
                        int (*start)(demo_t *))
{
    if (!reap(d, which))
        return 0;
    if (*tries == START_TRIES) {
        report_death(d, which, "at start");
        return -1;
    }
    (*tries)++;
    return start(d);
}

static int start_pipeline(demo_t *d)
{
    int hub_tries = 0, worker_tries = 0;
    set_status(d, "starting: hub and worker");
    if (start_hub(d) || start_worker(d))
        return -1;
    hub_tries = worker_tries = 1;
    int64_t deadline = mono_ns() + (int64_t)READY_WAIT_MS * 1000000;
    int64_t next = 0;
    for (;;) {
        if (interrupts)
            return -1;
        if (restart_dead(d, C_HUB, &hub_tries, start_hub) ||
            restart_dead(d, C_WORKER, &worker_tries, start_worker))
            return -1;
        if (reap(d, C_REDIS)) {
            report_death(d, C_REDIS, "at start");
            return -1;
        }
        int64_t now = mono_ns();
        if (now >= next) {
            next = now + 250 * 1000000LL;
            if (scrape(d) == 0) {
                if (d->m.owned >= PARTITIONS)
                    break;
                set_status(d,
                           "starting: the worker joins the consumer group "
                           "(%" PRIu64 " of %d partitions)",
                           d->m.owned, PARTITIONS);
            }
        }
        if (now >= deadline) {
            char tail[4096];
            log_tail(d->ch[C_WORKER].log, 12, tail, sizeof(tail));
            say(d,
                "the worker did not get the topic's partitions in %d s; last "
                "lines of its log (%s):\n%s",
                READY_WAIT_MS / 1000, d->ch[C_WORKER].log, tail);
            return -1;
        }
        draw(d, 0);
        sleep_ms(50);
    }
    /* the hub has had the worker's start-up time to bind its sockets */
    if (reap(d, C_HUB)) {
        report_death(d, C_HUB, "at start");
        return -1;
    }
    set_status(d, "starting: subscriber");
    return start_subscriber(d);
}

/* --------------------------------------------------------- alerts */

static void forget_active(demo_t *d, const char *alert_id)
{
    for (int i = 0; i < d->nactive; i++)
        if (strcmp(d->active[i].alert_id, alert_id) == 0) {
            d->active[i] = d->active[--d->nactive];
            return;
        }
}

static void on_alert(demo_t *d, const sw_wire_alert_t *w)
{
    const sw_alert_t *a = &w->a;
    int s = sw_demo_section_index(a->section);
    d->transitions++;
    if (w->seq > d->max_seq)
        d->max_seq = w->seq;
    if (a->state <= SW_ALERT_RESOLVED)
        d->by_state[a->state]++;
    int32_t wday = (int32_t)(a->window_start / SW_MS_PER_DAY);
    if (a->state == SW_ALERT_RESOLVED) {
        forget_active(d, a->alert_id);
    } else {
        int i = 0;
        while (i < d->nactive && strcmp(d->active[i].alert_id, a->alert_id))
            i++;
        if (i == d->nactive && d->nactive < ACTIVE_MAX)
            d->nactive++;
        if (i < d->nactive) {
            active_t *x = &d->active[i];
            snprintf(x->alert_id, sizeof(x->alert_id), "%s", a->alert_id);
            x->section = s;
            x->detector = a->detector;
            x->level = a->level;
        }
    }
    if (a->state == SW_ALERT_RAISED && s >= 0 && d->nraised < RAISED_MAX)
        d->raised[d->nraised++] = (raised_t){s, wday, a->level};
    recent_t *r = &d->recent[d->recent_head];
    d->recent_head = (d->recent_head + 1) % RECENT_MAX;
    if (d->nrecent < RECENT_MAX)
        d->nrecent++;
    r->day = wday;
    r->state = a->state;
    snprintf(r->section, sizeof(r->section), "%s", a->section);
    r->detector = a->detector;
    r->level = a->level;
    r->observed = a->observed;
    r->expected = a->expected;
    d->dirty = 1;
}

static void on_line(demo_t *d, const char *line, size_t len)
{
    if (d->json && !d->stdout_gone) {
        if (fwrite(line, 1, len, stdout) != len || fputc('\n', stdout) == EOF)
            d->stdout_gone = 1;
    }
    sw_wire_alert_t w;
    char err[256];
    if (sw_alert_from_json(line, len, &w, err, sizeof(err)) == 0)
        on_alert(d, &w);
    else
        d->bad_lines++;
}

/* Reads what the subscriber has written; handles each whole line. */
static void handle_sub_output(demo_t *d)
{
    if (d->sub_fd < 0)
        return;
    for (;;) {
        char buf[8192];
        ssize_t n = read(d->sub_fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break; /* EAGAIN */
        if (n == 0) {
            close(d->sub_fd);
            d->sub_fd = -1;
            break;
        }
        for (ssize_t i = 0; i < n; i++) {
            char c = buf[i];
            if (c == '\n') {
                if (!d->line_overflow && d->linelen)
                    on_line(d, d->line, d->linelen);
                d->linelen = 0;
                d->line_overflow = 0;
            } else if (d->linelen + 1 < sizeof(d->line)) {
                d->line[d->linelen++] = c;
            } else {
                d->line_overflow = 1;
            }
        }
    }
    if (d->json && !d->stdout_gone && fflush(stdout) == EOF)
        d->stdout_gone = 1;
}

/* ----------------------------------------------------------- view */

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf_t;

static void sb_add(sbuf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void sb_add(sbuf_t *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->n;
        int k = vsnprintf(b->p ? b->p + b->n : NULL, room, fmt, ap);
        va_end(ap);
        if (k < 0)
            return;
        if ((size_t)k < room) {
            b->n += (size_t)k;
            return;
        }
        size_t nc = (b->cap + (size_t)k + 1) * 2;
        char *np = realloc(b->p, nc);
        if (np == NULL)
            return;
        b->p = np;
        b->cap = nc;
    }
}

static const char *level_sgr(sw_level_t l)
{
    switch (l) {
    case SW_LEVEL_LOW:
        return "32"; /* green */
    case SW_LEVEL_MEDIUM:
        return "33"; /* yellow */
    case SW_LEVEL_HIGH:
        return "31"; /* red */
    default:
        return "1;37;41"; /* white on red */
    }
}

/* Colour on: "\033[<sgr>m"; off: nothing. */
static void sgr(demo_t *d, sbuf_t *b, const char *code)
{
    if (d->color)
        sb_add(b, "\033[%sm", code);
}

static void sgr_off(demo_t *d, sbuf_t *b)
{
    if (d->color)
        sb_add(b, "\033[0m");
}

static void eol(sbuf_t *b)
{
    sb_add(b, "\033[K\n");
}

static const char *phase_text(const demo_t *d)
{
    switch (d->phase) {
    case P_START:
        return d->status;
    case P_REPLAY:
        return "replaying";
    case P_DRAIN:
        return "replayed: waiting for the last alerts";
    case P_STOP:
        return interrupts ? "interrupted: stopping everything"
                          : "stopping everything";
    default:
        return "done";
    }
}

/* The section's most severe active alert and its detectors. */
static int section_alert(const demo_t *d, int s, sw_level_t *level, char *dets,
                         size_t cap)
{
    int found = 0;
    dets[0] = '\0';
    for (int k = 0; k < SW_DET__COUNT; k++) {
        for (int i = 0; i < d->nactive; i++) {
            const active_t *a = &d->active[i];
            if (a->section != s || (int)a->detector != k)
                continue;
            if (!found || a->level > *level)
                *level = a->level;
            size_t n = strlen(dets);
            if (!strstr(dets, sw_detector_name(a->detector)))
                snprintf(dets + n, cap - n, "%s%s", n ? "," : "",
                         sw_detector_name(a->detector));
            found = 1;
        }
    }
    return found;
}

static void bar(demo_t *d, sbuf_t *b, double count, double expected, int level)
{
    /* 20 cells; the expected count at the 8th: '#' up to the count */
    enum { W = 20, MARK = 8 };
    int fill = expected > 0 ? (int)lround(count / expected * MARK)
                            : (count > 0 ? W + 1 : 0);
    char cells[W + 1];
    for (int i = 0; i < W; i++)
        cells[i] = i < fill ? '#' : (i == MARK - 1 ? '|' : ' ');
    if (fill > W)
        cells[W - 1] = '>';
    cells[W] = '\0';
    sb_add(b, "[");
    if (level >= 0)
        sgr(d, b, level_sgr((sw_level_t)level));
    sb_add(b, "%s", cells);
    if (level >= 0)
        sgr_off(d, b);
    sb_add(b, "]");
}

static void draw(demo_t *d, int force)
{
    if (d->json || !d->view_on)
        return;
    int64_t now = mono_ns();
    if (!force && (now < d->next_draw_ns ||
                   (!d->dirty && now < d->next_draw_ns + 800000000LL)))
        return;
    d->next_draw_ns = now + 200000000LL; /* at most 5 frames a second */
    d->dirty = 0;
    int rows = 24;
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row >= 10)
        rows = ws.ws_row;
    static sbuf_t b;
    b.n = 0;
    sb_add(&b, "\033[H");
    char day[11], closed[11];
    int total = d->to - d->from + 1;
    int done = d->phase >= P_REPLAY ? d->day - d->from + 1 : 0;
    if (done > total)
        done = total;
    if (done < 0)
        done = 0;
    int64_t el = (now - d->t0_ns) / 1000000000LL;

    sgr(d, &b, "1");
    sb_add(&b, "surgewatch demo: the Western Balkans 2018-2020 scenario");
    sgr_off(d, &b);
    sb_add(&b, "  (seed %" PRIu64 ")", d->seed);
    eol(&b);
    sb_add(&b, "simulated day ");
    sgr(d, &b, "1");
    sb_add(&b, "%s",
           d->phase >= P_REPLAY ? sw_demo_day_str(d->day, day) : "----------");
    sgr_off(d, &b);
    sb_add(&b, "  (%d of %d days, %g days/s)  elapsed %d:%02d", done, total,
           d->speed, (int)(el / 60), (int)(el % 60));
    eol(&b);
    double secs = d->replay_ns ? (double)(now - d->replay_ns) / 1e9 : 0;
    sb_add(&b, "events: %" PRIu64 " published", d->published);
    if (secs > 0.5 && d->phase == P_REPLAY)
        sb_add(&b, " (%.0f/s)", (double)d->published / secs);
    sb_add(&b, ", %" PRIu64 " processed; alert transitions: %" PRIu64,
           d->m.consumed, d->transitions);
    eol(&b);
    sb_add(&b, "status: ");
    sgr(d, &b, "1");
    sb_add(&b, "%s", phase_text(d));
    sgr_off(d, &b);
    eol(&b);
    if (d->closed != INT32_MIN)
        sb_add(&b, "%-8s %10s %9s  %-22s  %s", "section",
               sw_demo_day_str(d->closed, closed), "expected",
               "persons vs expected", "alert now");
    else
        sb_add(&b, "%-8s %10s %9s  %-22s  %s", "section", "persons", "expected",
               "persons vs expected", "alert now");
    eol(&b);
    for (int s = 0; s < SW_DEMO_NSECTIONS; s++) {
        sw_level_t lv = SW_LEVEL_LOW;
        char dets[64];
        int on = section_alert(d, s, &lv, dets, sizeof(dets));
        sb_add(&b, "%-8s ", sw_demo_sections[s]);
        if (d->closed != INT32_MIN) {
            double exp = sw_demo_expected(s, d->closed);
            sb_add(&b, "%10u %9.1f  ", d->persons_closed[s], exp);
            bar(d, &b, d->persons_closed[s], exp, on ? (int)lv : -1);
        } else {
            sb_add(&b, "%10s %9s  %22s", "-", "-", "");
        }
        sb_add(&b, "  ");
        if (on) {
            sgr(d, &b, level_sgr(lv));
            sb_add(&b, "%-8s", sw_level_name(lv));
            sgr_off(d, &b);
            sb_add(&b, " %s", dets);
        } else {
            sb_add(&b, "-");
        }
        eol(&b);
    }
    eol(&b);
    sb_add(&b, "alert transitions, newest first (window, transition, "
               "section, detector, level)");
    eol(&b);
    int lines = 4 + 1 + SW_DEMO_NSECTIONS + 2;
    int room = rows - lines - 1;
    int shown = 0;
    for (int i = 0; i < d->nrecent && shown < room; i++, shown++) {
        const recent_t *r =
            &d->recent[(d->recent_head - 1 - i + 2 * RECENT_MAX) % RECENT_MAX];
        if (r->state == SW_ALERT_RAISED)
            sgr(d, &b, "1");
        sb_add(&b, "%s %-8s", sw_demo_day_str(r->day, day),
               sw_alert_state_name(r->state));
        if (r->state == SW_ALERT_RAISED)
            sgr_off(d, &b);
        sb_add(&b, " %-6s %-8s ", r->section, sw_detector_name(r->detector));
        sgr(d, &b, level_sgr(r->level));
        sb_add(&b, "%-8s", sw_level_name(r->level));
        sgr_off(d, &b);
        sb_add(&b, " %5.0f persons, expected %.1f", r->observed, r->expected);
        eol(&b);
    }
    if (shown == 0 && room > 0) {
        sb_add(&b, "  (none yet)");
        eol(&b);
        shown++;
    }
    for (; shown < room; shown++)
        eol(&b);
    if (d->web_url[0]) {
        sb_add(&b, "web view: %s", d->web_url);
        eol(&b);
    }
    sb_add(&b, "%s\033[K\033[J",
           d->phase == P_DONE ? "everything the demo started has stopped"
                              : "Ctrl-C stops the demo and everything it "
                                "started");
    if (fwrite(b.p, 1, b.n, stdout) != b.n || fflush(stdout) == EOF)
        d->stdout_gone = 1;
}

static void view_begin(demo_t *d)
{
    if (d->json)
        return;
    d->view_on = 1;
    /* clear, hide the cursor, no line wrap (a narrow terminal cuts) */
    fputs("\033[2J\033[H\033[?25l\033[?7l", stdout);
    fflush(stdout);
}

static void view_end(demo_t *d)
{
    if (!d->view_on)
        return;
    draw(d, 1);
    fputs("\033[?7h\033[?25h\n", stdout);
    fflush(stdout);
    d->view_on = 0;
}

/* ---------------------------------------------------------- replay */

/* Sends the events of one generated day; the open day moves on. */
static int publish_day(demo_t *d, int32_t day, const sw_event_t *ev, size_t n,
                       const uint32_t *persons)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char buf[SW_EVENT_MSGPACK_MAX];
        size_t len = sw_event_encode_msgpack(&ev[i], buf, sizeof(buf));
        char err[512];
        int rc = sw_producer_send(d->prod, ev[i].section, ev[i].section_len,
                                  buf, len, 30000, err, sizeof(err));
        if (rc) {
            say(d, "producing to the embedded Kafka failed: %s", err);
            return -1;
        }
        d->published++;
    }
    sw_producer_flush(d->prod, 0); /* hands the batch to librdkafka */
    if (d->day != INT32_MIN && day > d->day) {
        d->closed = d->day;
        memcpy(d->persons_closed, d->persons_open, sizeof(d->persons_open));
    }
    d->day = day;
    memcpy(d->persons_open, persons, sizeof(d->persons_open));
    d->dirty = 1;
    return 0;
}

/* Generates the next day; days before warm_from are drawn (the same
 * seed gives the same days whatever --from) but not sent. Returns 1 when
 * a day was sent, 0 at the end, -1 on error. */
static int next_day(demo_t *d)
{
    for (;;) {
        int32_t day;
        const sw_event_t *ev;
        size_t n;
        uint32_t persons[SW_DEMO_NSECTIONS];
        sw_event_err_t err;
        int rc = sw_demo_gen_next(d->gen, &day, &ev, &n, persons, &err);
        if (rc < 0) {
            say(d, "the scenario generator failed: %s", err.msg);
            return -1;
        }
        if (rc == 0 || day > d->to)
            return 0;
        if (day < d->warm_from)
            continue;
        return publish_day(d, day, ev, n, persons) ? -1 : 1;
    }
}

static int check_children(demo_t *d)
{
    for (int i = 0; i < C_N; i++)
        if (d->ch[i].pid > 0 && reap(d, i)) {
            report_death(d, i, "during the replay");
            return -1;
        }
    if (d->sub_fd < 0 && d->ch[C_SUB].pid > 0) {
        /* the pipe closed: the subscriber is going */
        for (int k = 0; k < 100 && !reap(d, C_SUB); k++)
            sleep_ms(20);
        if (d->ch[C_SUB].pid == 0) {
            report_death(d, C_SUB, "during the replay");
            return -1;
        }
    }
    return 0;
}

/* The replay and the wait for the last alerts. Returns 0, or -1 when a
 * component failed (d->failed set). */
static int run_replay(demo_t *d)
{
    d->phase = P_REPLAY;
    /* the warm-up: the weeks before --from, at once */
    while (d->day == INT32_MIN || d->day + 1 < d->from) {
        int rc = next_day(d);
        if (rc < 0)
            return -1;
        if (rc == 0)
            break;
        sw_producer_poll(d->prod, 0);
        if (interrupts)
            return 0;
    }
    d->replay_ns = mono_ns();
    d->next_day_ns = d->replay_ns;
    int64_t day_ns = (int64_t)(1e9 / d->speed);
    int64_t nth = 0;
    int ended = d->day >= d->to;
    if (ended) {
        d->phase = P_DRAIN;
        d->drain_deadline_ns = mono_ns() + (int64_t)DRAIN_WAIT_MS * 1000000;
    }
    while (!interrupts) {
        int64_t now = mono_ns();
        if (d->phase == P_REPLAY && now >= d->next_day_ns) {
            int rc = next_day(d);
            if (rc < 0)
                return -1;
            nth++;
            d->next_day_ns = d->replay_ns + nth * day_ns;
            if (rc == 0 || d->day >= d->to) {
                d->phase = P_DRAIN;
                d->drain_deadline_ns = now + (int64_t)DRAIN_WAIT_MS * 1000000;
                d->next_scrape_ns = 0;
            }
            continue;
        }
        sw_producer_poll(d->prod, 0);
        const sw_producer_stats_t *st = sw_producer_stats(d->prod);
        if (st->failed) {
            say(d, "the embedded Kafka refused events: %s", st->last_error);
            return -1;
        }
        if (check_children(d))
            return -1;
        if (now >= d->next_scrape_ns) {
            d->next_scrape_ns =
                now + (d->phase == P_DRAIN ? 200 : 1000) * 1000000LL;
            scrape(d);
            if (d->phase == P_DRAIN && d->m.ok &&
                st->delivered >= d->published &&
                d->m.consumed >= d->published && d->m.pending == 0 &&
                d->max_seq >= d->m.alerts)
                break; /* every alert the worker wrote has been delivered */
        }
        if (d->phase == P_DRAIN && now >= d->drain_deadline_ns) {
            d->drain_late = 1;
            break;
        }
        draw(d, 0);
        if (d->stdout_gone)
            break;
        int64_t wake =
            d->phase == P_REPLAY ? d->next_day_ns : now + 200000000LL;
        if (d->next_scrape_ns < wake)
            wake = d->next_scrape_ns;
        if (!d->json && d->next_draw_ns < wake)
            wake = d->next_draw_ns;
        int timeout = (int)((wake - now) / 1000000);
        if (timeout < 0)
            timeout = 0;
        if (timeout > 200)
            timeout = 200;
        struct pollfd p = {d->sub_fd, POLLIN, 0};
        if (d->sub_fd >= 0) {
            if (poll(&p, 1, timeout) > 0)
                handle_sub_output(d);
        } else {
            sleep_ms(timeout);
        }
    }
    return 0;
}

/* ---------------------------------------------------------- summary */

static void summary(demo_t *d, FILE *out, int interrupted)
{
    int64_t el = (mono_ns() - d->t0_ns) / 1000000000LL;
    char a[11], b[11];
    int days =
        d->day == INT32_MIN || d->day < d->from ? 0 : d->day - d->from + 1;
    const sw_demo_surge_t *sg;
    size_t ns = sw_demo_surges(&sg);
    int in_period = 0, caught = 0;
    int used[RAISED_MAX] = {0};
    for (size_t i = 0; i < ns; i++) {
        /* the surges whose first day was closed (evaluated) */
        if (sg[i].start < d->from || sg[i].start > d->to ||
            d->closed == INT32_MIN || sg[i].start > d->closed)
            continue;
        in_period++;
        for (int k = 0; k < d->nraised; k++)
            if (d->raised[k].section == sg[i].section &&
                d->raised[k].day >= sg[i].start - 1 &&
                d->raised[k].day <= sg[i].start + 7) {
                caught++;
                break;
            }
    }
    if (d->json) {
        fprintf(out,
                "surgewatch demo: %s..%s, %d of %d days replayed in %d:%02d; "
                "%" PRIu64 " events published; %" PRIu64
                " alert transitions (%" PRIu64 " raised, %" PRIu64
                " updated, %" PRIu64 " resolved); surges caught %d of %d%s\n",
                sw_demo_day_str(d->from, a), sw_demo_day_str(d->to, b), days,
                d->to - d->from + 1, (int)(el / 60), (int)(el % 60),
                d->published, d->transitions, d->by_state[0], d->by_state[1],
                d->by_state[2], caught, in_period,
                interrupted ? "; interrupted" : "");
        fflush(out);
        return;
    }
    fprintf(out,
            "%s: %d of %d days replayed (%s..%s) in %d:%02d;\n%" PRIu64
            " events published, %" PRIu64 " alert transitions (%" PRIu64
            " raised, %" PRIu64 " updated, %" PRIu64 " resolved)\n",
            interrupted ? "interrupted" : "done", days, d->to - d->from + 1,
            sw_demo_day_str(d->from, a), sw_demo_day_str(d->to, b),
            (int)(el / 60), (int)(el % 60), d->published, d->transitions,
            d->by_state[0], d->by_state[1], d->by_state[2]);
    fprintf(out, "alerts raised:");
    for (int s = 0; s < SW_DEMO_NSECTIONS; s++) {
        int n = 0;
        for (int k = 0; k < d->nraised; k++)
            n += d->raised[k].section == s;
        fprintf(out, " %s %d%s", sw_demo_sections[s], n,
                s + 1 < SW_DEMO_NSECTIONS ? "," : "\n");
    }
    if (in_period)
        fprintf(out, "the scenario's surges (caught: raised within a week of "
                     "the start):\n");
    for (size_t i = 0; i < ns; i++) {
        if (sg[i].start < d->from || sg[i].start > d->to)
            continue;
        int hit = -1;
        for (int k = 0; k < d->nraised; k++)
            if (d->raised[k].section == sg[i].section &&
                d->raised[k].day >= sg[i].start - 1 &&
                d->raised[k].day <= sg[i].start + 7) {
                hit = k;
                break;
            }
        fprintf(out, "  %-6s from %s  ", sw_demo_sections[sg[i].section],
                sw_demo_day_str(sg[i].start, a));
        for (int k = 0; k < d->nraised; k++)
            if (d->raised[k].section == sg[i].section &&
                d->raised[k].day >= sg[i].start - 1 &&
                d->raised[k].day <= sg[i].start + 7)
                used[k] = 1;
        if (hit >= 0) {
            int late = d->raised[hit].day - sg[i].start;
            if (d->color)
                fprintf(out, "\033[%smcaught\033[0m",
                        level_sgr(d->raised[hit].level));
            else
                fputs("caught", out);
            if (late <= 0)
                fprintf(out, " on its first day, level %s\n",
                        sw_level_name(d->raised[hit].level));
            else
                fprintf(out, " %d day%s after its start, level %s\n", late,
                        late == 1 ? "" : "s",
                        sw_level_name(d->raised[hit].level));
        } else if (d->day < sg[i].start + 1) {
            fprintf(out, "not reached\n");
        } else {
            fprintf(out, "missed\n");
        }
    }
    int other = 0;
    for (int k = 0; k < d->nraised; k++)
        other += !used[k];
    fprintf(out, "other alerts raised (not at a surge's start): %d\n", other);
    fflush(out);
}

/* ---------------------------------------------------------- helpers */

static void print_truth(const demo_t *d)
{
    char a[11], b[11];
    printf("{\"period\":{\"from\":\"%s\",\"to\":\"%s\"},\"seed\":%" PRIu64
           ",\"sections\":[",
           sw_demo_day_str(sw_demo_first_day(), a),
           sw_demo_day_str(sw_demo_last_day(), b), d->seed);
    for (int s = 0; s < SW_DEMO_NSECTIONS; s++)
        printf("%s\"%s\"", s ? "," : "", sw_demo_sections[s]);
    printf("],\"surges\":[");
    const sw_demo_surge_t *sg;
    size_t ns = sw_demo_surges(&sg);
    for (size_t i = 0; i < ns; i++)
        printf("%s{\"section\":\"%s\",\"start\":\"%s\",\"shape\":\"%s\"}",
               i ? "," : "", sw_demo_sections[sg[i].section],
               sw_demo_day_str(sg[i].start, a), sg[i].shape);
    printf("],\"quiet\":[");
    const sw_demo_quiet_t *q;
    size_t nq = sw_demo_quiet(&q);
    for (size_t i = 0; i < nq; i++) {
        printf("%s{\"sections\":[", i ? "," : "");
        if (strcmp(q[i].sections, "*") == 0) {
            for (int s = 0; s < SW_DEMO_NSECTIONS; s++)
                printf("%s\"%s\"", s ? "," : "", sw_demo_sections[s]);
        } else {
            char tmp[128];
            snprintf(tmp, sizeof(tmp), "%s", q[i].sections);
            int first = 1;
            for (char *save = NULL, *t = strtok_r(tmp, " ", &save); t;
                 t = strtok_r(NULL, " ", &save), first = 0)
                printf("%s\"%s\"", first ? "" : ",", t);
        }
        printf("],\"from\":\"%s\",\"to\":\"%s\",\"why\":\"%s\"}",
               sw_demo_day_str(q[i].from, a), sw_demo_day_str(q[i].to, b),
               q[i].why);
    }
    /* the collapse, from the expected counts (not drawn ones) */
    int32_t c0 = sw_demo_day(2020, 3, 14), c1 = sw_demo_day(2020, 3, 17);
    double before = 0, after = 0;
    int nb = 0, na = 0;
    for (int32_t day = sw_demo_day(2020, 3, 1); day <= sw_demo_last_day();
         day++) {
        double t = 0;
        for (int s = 0; s < SW_DEMO_NSECTIONS; s++)
            t += sw_demo_expected(s, day);
        if (day < c0) {
            before += t;
            nb++;
        } else if (day > c1) {
            after += t;
            na++;
        }
    }
    before /= nb;
    after /= na;
    printf("],\"collapse\":{\"from\":\"%s\",\"to\":\"%s\","
           "\"per_day_before\":%.1f,\"per_day_after\":%.1f,\"drop\":%.1f,"
           "\"note\":\"expected persons a day, not drawn ones\"},"
           "\"figures\":[]}\n",
           sw_demo_day_str(c0, a), sw_demo_day_str(c1, b), before, after,
           100 * (1 - after / before));
}

/* The events the demo would publish (warm-up included), as msgpack. */
static int dump_events(demo_t *d)
{
    for (;;) {
        int32_t day;
        const sw_event_t *ev;
        size_t n;
        uint32_t persons[SW_DEMO_NSECTIONS];
        sw_event_err_t err;
        int rc = sw_demo_gen_next(d->gen, &day, &ev, &n, persons, &err);
        if (rc < 0) {
            fprintf(stderr, "surgewatch demo: the generator failed: %s\n",
                    err.msg);
            return SW_EXIT_REJECTED;
        }
        if (rc == 0 || day > d->to)
            break;
        if (day < d->warm_from)
            continue;
        for (size_t i = 0; i < n; i++) {
            unsigned char buf[SW_EVENT_MSGPACK_MAX];
            size_t len = sw_event_encode_msgpack(&ev[i], buf, sizeof(buf));
            if (fwrite(buf, 1, len, stdout) != len)
                return SW_EXIT_REJECTED;
        }
    }
    return fflush(stdout) == 0 ? SW_EXIT_OK : SW_EXIT_REJECTED;
}

static int parse_day_opt(const char *opt, const char *arg, int32_t *day)
{
    char a[11], b[11];
    if (sw_demo_day_parse(arg, day) == 0 && *day >= sw_demo_first_day() &&
        *day <= sw_demo_last_day())
        return 0;
    fprintf(stderr,
            "surgewatch demo: %s '%s': not a day of the scenario (accepted: "
            "YYYY-MM-DD from %s to %s)\n",
            opt, arg, sw_demo_day_str(sw_demo_first_day(), a),
            sw_demo_day_str(sw_demo_last_day(), b));
    return -1;
}

/* ------------------------------------------------------------- main */

static void shutdown_all(demo_t *d)
{
    d->phase = P_STOP;
    d->dirty = 1;
    draw(d, 1);
    int first[] = {C_SUB, C_HUB, C_WORKER};
    stop_children(d, first, 3);
    handle_sub_output(d);
    int last[] = {C_REDIS};
    stop_children(d, last, 1);
    if (d->sub_fd >= 0) {
        close(d->sub_fd);
        d->sub_fd = -1;
    }
    if (d->prod) {
        sw_producer_flush(d->prod, 2000);
        sw_producer_destroy(&d->prod);
    }
    if (d->mc) {
        rd_kafka_mock_cluster_destroy(d->mc);
        d->mc = NULL;
    }
    if (d->mock_rk) {
        rd_kafka_destroy(d->mock_rk);
        d->mock_rk = NULL;
    }
    d->phase = P_DONE;
    d->dirty = 1;
}

int sw_cmd_demo(int argc, char **argv)
{
    enum {
        O_FROM = 256,
        O_TO,
        O_SPEED,
        O_SEED,
        O_VIEW,
        O_JSON,
        O_NO_COLOR,
        O_KEEP,
        O_TRUTH,
        O_DUMP,
        O_PRINT_CONFIG,
        O_WEB,
        O_WEB_VIEWERS,
    };
    static const struct option longopts[] = {
        {"from", required_argument, NULL, O_FROM},
        {"to", required_argument, NULL, O_TO},
        {"speed", required_argument, NULL, O_SPEED},
        {"seed", required_argument, NULL, O_SEED},
        {"view", no_argument, NULL, O_VIEW},
        {"json", no_argument, NULL, O_JSON},
        {"no-color", no_argument, NULL, O_NO_COLOR},
        {"no-colour", no_argument, NULL, O_NO_COLOR},
        {"keep-temp", no_argument, NULL, O_KEEP},
        {"web", required_argument, NULL, O_WEB},
        {"web-viewers", required_argument, NULL, O_WEB_VIEWERS},
        {"truth", no_argument, NULL, O_TRUTH},
        {"dump-events", no_argument, NULL, O_DUMP},
        {"print-config", no_argument, NULL, O_PRINT_CONFIG},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static demo_t demo;
    demo_t *d = &demo;
    memset(d, 0, sizeof(*d));
    d->from = sw_demo_first_day();
    d->to = sw_demo_last_day();
    d->speed = 5;
    d->seed = SW_DEMO_DEFAULT_SEED;
    d->sub_fd = -1;
    d->day = d->closed = INT32_MIN;
    d->saved_err = -1;
    int view = -1, no_color = 0, truth = 0, dump = 0, print_config = 0, opt;
    unsigned long long x;
    opterr = 1;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case O_FROM:
            if (parse_day_opt("--from", optarg, &d->from))
                return SW_EXIT_USAGE;
            break;
        case O_TO:
            if (parse_day_opt("--to", optarg, &d->to))
                return SW_EXIT_USAGE;
            break;
        case O_SPEED: {
            char *end;
            errno = 0;
            double v = strtod(optarg, &end);
            if (errno || end == optarg || *end || !isfinite(v) || v < 0.1 ||
                v > 1000) {
                fprintf(stderr,
                        "surgewatch demo: --speed '%s': not a speed "
                        "(accepted: simulated days per second, a number "
                        "from 0.1 to 1000, e.g. 5 or 0.5)\n",
                        optarg);
                return SW_EXIT_USAGE;
            }
            d->speed = v;
            break;
        }
        case O_SEED:
            if (sw_parse_uint(optarg, 0, UINT64_MAX, &x)) {
                fprintf(stderr,
                        "surgewatch demo: --seed '%s': not a seed "
                        "(accepted: a whole number, 0 to 2^64-1)\n",
                        optarg);
                return SW_EXIT_USAGE;
            }
            d->seed = x;
            break;
        case O_VIEW:
            view = 1;
            break;
        case O_JSON:
            view = 0;
            break;
        case O_NO_COLOR:
            no_color = 1;
            break;
        case O_KEEP:
            d->keep = 1;
            break;
        case O_WEB: {
            struct sockaddr_in sa;
            char e[300];
            if (strlen(optarg) >= sizeof(d->web) ||
                sw_http_parse_listen(optarg, &sa, e, sizeof(e))) {
                fprintf(stderr, "surgewatch demo: --web: %s\n",
                        strlen(optarg) >= sizeof(d->web) ? "too long" : e);
                return SW_EXIT_USAGE;
            }
            snprintf(d->web, sizeof(d->web), "%s", optarg);
            break;
        }
        case O_WEB_VIEWERS: {
            char e[PATH_MAX + 300];
            sw_viewers_t *vs = sw_viewers_load(optarg, e, sizeof(e));
            if (vs == NULL || realpath(optarg, d->web_viewers) == NULL) {
                fprintf(stderr, "surgewatch demo: --web-viewers: %s\n",
                        vs ? strerror(errno) : e);
                sw_viewers_free(&vs);
                return SW_EXIT_USAGE;
            }
            sw_viewers_free(&vs);
            break;
        }
        case O_TRUTH:
            truth = 1;
            break;
        case O_DUMP:
            dump = 1;
            break;
        case O_PRINT_CONFIG:
            print_config = 1;
            break;
        case 'h':
            fputs(help, stdout);
            return SW_EXIT_OK;
        default:
            fprintf(stderr, "Try 'surgewatch demo --help'.\n");
            return SW_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr,
                "surgewatch demo: '%s': unexpected argument (the demo takes "
                "options only)\nTry 'surgewatch demo --help'.\n",
                argv[optind]);
        return SW_EXIT_USAGE;
    }
    if (d->from > d->to) {
        char a[11], b[11];
        fprintf(stderr,
                "surgewatch demo: --from %s is after --to %s (accepted: "
                "--from on or before --to)\n",
                sw_demo_day_str(d->from, a), sw_demo_day_str(d->to, b));
        return SW_EXIT_USAGE;
    }
    d->warm_from = d->from - WARMUP_DAYS;
    if (d->warm_from < sw_demo_first_day())
        d->warm_from = sw_demo_first_day();
    if (truth) {
        print_truth(d);
        return SW_EXIT_OK;
    }
    if (print_config) {
        fputs(demo_config, stdout);
        return SW_EXIT_OK;
    }
    d->gen = sw_demo_gen_new(d->seed);
    if (d->gen == NULL) {
        fprintf(stderr, "surgewatch demo: out of memory\n");
        return SW_EXIT_REJECTED;
    }
    if (dump) {
        int rc = dump_events(d);
        sw_demo_gen_destroy(&d->gen);
        return rc;
    }
    d->json = view == -1 ? !isatty(STDOUT_FILENO) : !view;
    const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");
    d->color = !d->json && !no_color && !(nc && *nc) &&
               !(term && strcmp(term, "dumb") == 0);
    sw_log_level = SW_LOG_WARN;

    int status = SW_EXIT_OK;
    d->t0_ns = mono_ns();
    d->envp = child_env();
    ssize_t el = readlink("/proc/self/exe", d->exe, sizeof(d->exe) - 1);
    if (d->envp == NULL || el <= 0) {
        fprintf(stderr, "surgewatch demo: cannot find this program (%s)\n",
                d->envp ? "/proc/self/exe" : "out of memory");
        free(d->envp);
        sw_demo_gen_destroy(&d->gen);
        return SW_EXIT_UNAVAILABLE;
    }
    d->exe[el] = '\0';
    if (find_in_path("redis-server", d->redis_bin, sizeof(d->redis_bin))) {
        fprintf(stderr,
                "surgewatch demo: redis-server not found in PATH; install "
                "it: apt-get install redis-server, or run "
                "scripts/install-deps\n");
        free(d->envp);
        sw_demo_gen_destroy(&d->gen);
        return SW_EXIT_UNAVAILABLE;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    clean_stale();
    snprintf(d->tmp, sizeof(d->tmp), "%s/surgewatch-demo.XXXXXX", tmp_root());
    if (mkdtemp(d->tmp) == NULL) {
        fprintf(stderr,
                "surgewatch demo: cannot create a temporary directory in "
                "%s: %s\n",
                tmp_root(), strerror(errno));
        d->tmp[0] = '\0';
        free(d->envp);
        sw_demo_gen_destroy(&d->gen);
        return SW_EXIT_UNAVAILABLE;
    }
    char pidtext[32], pidfile[PATH_MAX + 16];
    snprintf(pidtext, sizeof(pidtext), "%ld\n", (long)getpid());
    snprintf(pidfile, sizeof(pidfile), "%.255s/demo.pid", d->tmp);
    snprintf(d->config, sizeof(d->config), "%.255s/demo.ini", d->tmp);
    for (int i = 0; i < C_N; i++)
        snprintf(d->ch[i].log, sizeof(d->ch[i].log), "%.255s/%s.log", d->tmp,
                 child_name[i]);
    int saved = dup(STDERR_FILENO);
    if (saved >= 0) {
        fcntl(saved, F_SETFD, FD_CLOEXEC);
        d->saved_err = saved;
        d->uerr = fdopen(saved, "w");
    }
    if (write_file(pidfile, pidtext) || write_file(d->config, demo_config)) {
        say(d, "cannot write in %s: %s", d->tmp, strerror(errno));
        status = SW_EXIT_UNAVAILABLE;
        goto out;
    }
    if (!d->json) {
        /* the demo's own log lines (librdkafka's) would break the view */
        char lp[PATH_MAX + 16];
        snprintf(lp, sizeof(lp), "%.255s/demo.log", d->tmp);
        int lfd = open(lp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (lfd >= 0) {
            dup2(lfd, STDERR_FILENO);
            close(lfd);
        }
        view_begin(d);
    }
    set_status(d, "starting");
    draw(d, 1);
    if (start_redis(d) || start_kafka(d) || start_pipeline(d)) {
        status = interrupts ? SW_EXIT_INTERRUPTED : SW_EXIT_UNAVAILABLE;
        goto out;
    }
    if (d->web_url[0] && !d->view_on)
        say(d, "web view at %s", d->web_url);
    if (run_replay(d) || d->drain_late)
        status = SW_EXIT_REJECTED;
    else if (interrupts)
        status = SW_EXIT_INTERRUPTED;
out:
    if (d->phase == P_START && status == SW_EXIT_OK)
        status = SW_EXIT_UNAVAILABLE;
    shutdown_all(d);
    view_end(d);
    if (d->saved_err >= 0)
        dup2(d->saved_err, STDERR_FILENO);
    if (d->held[0]) {
        FILE *f = d->uerr ? d->uerr : stderr;
        fputs(d->held, f);
        fflush(f);
    }
    if (d->drain_late)
        say(d,
            "stopped waiting for the last alerts after %d s (the worker "
            "processed %" PRIu64 " of %" PRIu64 " events; %" PRIu64
            " of %" PRIu64 " alert transitions arrived)",
            DRAIN_WAIT_MS / 1000, d->m.consumed, d->published, d->max_seq,
            d->m.alerts);
    if (d->bad_lines)
        say(d, "%" PRIu64 " lines from the subscriber were not alerts",
            d->bad_lines);
    if (d->replay_ns || d->day != INT32_MIN)
        summary(d, d->json ? (d->uerr ? d->uerr : stderr) : stdout,
                status == SW_EXIT_INTERRUPTED);
    if (d->keep)
        say(d, "the temporary directory is kept: %s", d->tmp);
    else
        rm_tree(d->tmp);
    if (d->uerr)
        fclose(d->uerr);
    free(d->envp);
    sw_demo_gen_destroy(&d->gen);
    return status;
}
