/*
 * Fuzz target: HTTP requests to the hub's web view (src/hub_web.c,
 * docs/web.md) and to the /metrics endpoint every long-running command
 * serves (common/sw_http.c), over real TCP connections to servers started
 * once in this process on 127.0.0.1 (free ports).
 *
 * The web view has a viewers file written here (an operator who sees
 * everything, a viewer who sees HU-RS and HR-SI) and a Redis URL on a
 * closed port (127.0.0.1:1, timeout 50 ms): the Redis-backed endpoints
 * answer 503 at once, the rest (access, routing, parameters, the event
 * stream from the hub's memory) runs as in production. A few alerts are
 * put in its memory at start (hub_web_alert), in visible and invisible
 * sections.
 *
 * The first byte of an input says what the rest is:
 *   bit 5        the server: 0 the web view, 1 /metrics;
 *   bits 0-1     0: the raw request bytes;
 *                1: "METHOD TARGET HTTP/1.1", TARGET being the first line
 *                   of the rest, then Host, a Bearer token, the other lines
 *                   of the rest as header lines, and the blank line;
 *                2: the same with the token as the sw_token cookie;
 *                3: the same without a token;
 *   bit 2        METHOD: 0 GET, 1 HEAD;
 *   bits 3-4     the token: the operator's, the viewer's, a well-formed
 *                unknown one, the operator's after "bearer" and spaces.
 * The request is sent and the reply read until it is whole, the server
 * closes, 64 KiB, 100 ms, or 20 ms without more (an event stream stays
 * open); when nothing comes for 5 ms the write side is shut, so that the
 * server sees the end of a request it is still waiting on.
 *
 * Oracles: every reply starts with an HTTP status line; a JSON reply
 * whose body arrived whole is well-formed JSON (error messages echo the
 * request); a 200 or 303 of the web view needs a valid token somewhere in
 * the request (percent-decoded); a request that carries only the viewer's
 * token never gets an alert of a section the viewer may not see; and after
 * every input each server still answers a fresh request within 5 s.
 * Between inputs an alert with a new, very large seq is put in memory:
 * event streams left open wake up, write, find the connection gone (it is
 * reset) and end, so they do not pile up.
 */
#include "hub_web.h"
#include "sw_acl.h"
#include "sw_alert_wire.h"
#include "sw_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_parse.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, what)                                                      \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_http: %s\n", what);                          \
            __builtin_trap();                                                  \
        }                                                                      \
    } while (0)

/* base64url, 43 characters, as from `surgewatch keygen --web-token` */
#define TOKEN_OPERATOR "OpErAtOr-fuzz_token-0123456789abcdefghijklm"
#define TOKEN_VIEWER "ViEwEr-fuzz_token-0123456789abcdefghijklmno"
#define TOKEN_UNKNOWN "UnKnOwN-fuzz_token-0123456789abcdefghijklmn"

#define REPLY_MAX (64 * 1024)
#define REPLY_MS 100
#define IDLE_MS 20
#define NOREPLY_MS 5
#define HEALTH_MS 5000
#define REQUEST_MAX 8192

static hub_web_t *web;
static sw_http_t *metrics;
static int web_port, metrics_port;
static char workdir[256], viewers_path[300];
static uint64_t wake_seq = (UINT64_C(1) << 62) + 2;

static void remove_workdir(void)
{
    if (viewers_path[0])
        unlink(viewers_path);
    if (workdir[0])
        rmdir(workdir);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void put_alert(uint64_t seq, const char *section)
{
    sw_wire_alert_t w;
    memset(&w, 0, sizeof(w));
    w.seq = seq;
    snprintf(w.a.alert_id, sizeof(w.a.alert_id),
             "%s:threshold:2019-03-04T00:00Z", section);
    snprintf(w.a.section, sizeof(w.a.section), "%s", section);
    w.a.state = SW_ALERT_RAISED;
    w.a.type = -1;
    w.a.detector = SW_DET_THRESHOLD;
    w.a.level = SW_LEVEL_HIGH;
    w.a.window_start = INT64_C(1551657600000);
    w.a.window_end = INT64_C(1551744000000);
    w.a.observed = 120;
    w.a.expected = 40;
    w.a.score = 3;
    w.a.threshold = 40;
    w.a.raised_at = w.a.window_end;
    hub_web_alert(web, &w);
}

static void viewer_line(FILE *f, const char *token, const char *rest)
{
    uint8_t h[32];
    sw_token_hash(token, strlen(token), h);
    for (int i = 0; i < 32; i++)
        fprintf(f, "%02x", h[i]);
    fprintf(f, "  %s\n", rest);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    signal(SIGPIPE, SIG_IGN);
    const char *tmp = getenv("TMPDIR");
    snprintf(workdir, sizeof(workdir), "%s/fuzz-http.XXXXXX",
             tmp && *tmp && strlen(tmp) < 200 ? tmp : "/tmp");
    if (mkdtemp(workdir) == NULL)
        abort();
    atexit(remove_workdir);
    snprintf(viewers_path, sizeof(viewers_path), "%s/viewers", workdir);
    FILE *f = fopen(viewers_path, "w");
    if (f == NULL)
        abort();
    fprintf(f, "# fuzz_http viewers\n");
    viewer_line(f, TOKEN_OPERATOR, "fuzz-op  operator  *");
    viewer_line(f, TOKEN_VIEWER, "fuzz-view  viewer  HU-RS,HR-SI");
    if (fclose(f) != 0)
        abort();

    hub_web_conf_t conf = {
        .listen = "127.0.0.1:0",
        .viewers_path = viewers_path,
        .redis_url = "redis://127.0.0.1:1",
        .redis_timeout_ms = 50,
        .prefix = "fz",
        .hub_name = "fuzz-hub",
    };
    char err[512];
    web = hub_web_start(&conf, err, sizeof(err));
    if (web == NULL) {
        fprintf(stderr, "fuzz_http: hub_web_start: %s\n", err);
        abort();
    }
    web_port = hub_web_port(web);
    /* read (a reload would reread it; nothing here sends SIGHUP): gone now,
     * so that nothing is left behind however the run ends */
    remove_workdir();
    viewers_path[0] = workdir[0] = '\0';
    /* in memory: seqs 100..111, in sections both viewers see and in one
     * only the operator sees */
    hub_web_set_start(web, 100);
    static const char *const sections[] = {"HU-RS", "GR-TR", "HR-SI/karlovac"};
    for (uint64_t s = 100; s < 112; s++)
        put_alert(s, sections[s % 3]);

    metrics = sw_http_start("127.0.0.1:0", err, sizeof(err));
    if (metrics == NULL) {
        fprintf(stderr, "fuzz_http: sw_http_start: %s\n", err);
        abort();
    }
    metrics_port = sw_http_port(metrics);
    static const char text[] = "# TYPE sw_up gauge\nsw_up 1\n";
    sw_http_publish(metrics, text, sizeof(text) - 1, 1, "ok");
    return 0;
}

/* A connected socket, or -1. */
static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        /* libFuzzer's timer (SIGALRM) may interrupt it; the connection
         * goes on being made */
        int err = errno;
        socklen_t el = sizeof(err);
        struct pollfd p = {fd, POLLOUT, 0};
        while (err == EINTR && poll(&p, 1, HEALTH_MS) < 0 && errno == EINTR)
            ;
        if (err == EINTR &&
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
            err = errno;
        if (err != EINTR && err != 0) {
            close(fd);
            errno = err;
            return -1;
        }
    }
    return fd;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* 1 when the request holds tok, as it is or percent-encoded. */
static int holds(const char *req, size_t len, const char *tok)
{
    static char dec[REQUEST_MAX + 1];
    size_t n = 0;
    for (size_t i = 0; i < len && n < REQUEST_MAX; i++) {
        int a, b;
        if (req[i] == '%' && i + 2 < len && (a = hexval(req[i + 1])) >= 0 &&
            (b = hexval(req[i + 2])) >= 0) {
            dec[n++] = (char)(a * 16 + b);
            i += 2;
        } else {
            dec[n++] = req[i];
        }
    }
    size_t tl = strlen(tok);
    for (size_t i = 0; i + tl <= n; i++)
        if (memcmp(dec + i, tok, tl) == 0)
            return 1;
    for (size_t i = 0; i + tl <= len; i++)
        if (memcmp(req + i, tok, tl) == 0)
            return 1;
    return 0;
}

/* The value of a header in the reply's head (case-insensitive name), into
 * out; 0 when absent. */
static int header(const char *head, size_t hlen, const char *name, char *out,
                  size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = head; p < head + hlen;) {
        const char *eol = memchr(p, '\n', (size_t)(head + hlen - p));
        if (eol == NULL)
            eol = head + hlen;
        if ((size_t)(eol - p) > nl + 1 && strncasecmp(p, name, nl) == 0 &&
            p[nl] == ':') {
            const char *v = p + nl + 1;
            while (v < eol && *v == ' ')
                v++;
            size_t vl = (size_t)(eol - v);
            while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == ' '))
                vl--;
            if (vl >= cap)
                vl = cap - 1;
            memcpy(out, v, vl);
            out[vl] = '\0';
            return 1;
        }
        p = eol + 1;
    }
    return 0;
}

static int json_ok(const char *s, size_t len)
{
    yajl_handle y = yajl_alloc(NULL, NULL, NULL);
    if (y == NULL)
        return 1;
    /* syntax only: messages may echo bytes that are not UTF-8 */
    yajl_config(y, yajl_dont_validate_strings, 1);
    int ok = yajl_parse(y, (const unsigned char *)s, len) == yajl_status_ok &&
             yajl_complete_parse(y) == yajl_status_ok;
    yajl_free(y);
    return ok;
}

/* 1 when buf[0..len) holds a whole reply (to a HEAD request when head):
 * its head, and as much body as Content-Length says or a chunked body's
 * last chunk. A reply that ends only when the connection does (an event
 * stream) is never whole. */
static int reply_complete(const char *buf, size_t len, int head)
{
    const char *eoh = strstr(buf, "\r\n\r\n");
    if (eoh == NULL || len < 12)
        return 0;
    int status = atoi(buf + 9);
    if (status < 200)
        return 0; /* 100 Continue: the reply comes after */
    size_t hlen = (size_t)(eoh - buf), blen = len - hlen - 4;
    if (head || status == 204 || status == 304)
        return 1;
    char v[64];
    if (header(buf, hlen, "Content-Length", v, sizeof(v)))
        return blen >= strtoul(v, NULL, 10);
    if (header(buf, hlen, "Transfer-Encoding", v, sizeof(v)) &&
        strcasecmp(v, "chunked") == 0)
        return blen >= 5 && (memcmp(eoh + 4, "0\r\n\r\n", 5) == 0 ||
                             strstr(eoh + 2, "\r\n0\r\n\r\n") != NULL);
    return 0;
}

/* Sends req and reads the reply into buf (at most cap - 1 bytes,
 * NUL-terminated) until it is whole, the server closes, cap, ms, or
 * IDLE_MS without more once something came. When nothing came for
 * NOREPLY_MS, the write side is shut (the server then knows a request
 * it is waiting on will not go on). The connection is reset, not closed:
 * the server's next write to an event stream fails at once, and neither
 * side keeps the connection in TIME-WAIT (tens of thousands of them
 * would run out of ports, and they are the machine's). Returns the
 * length; -1 when no connection could be made. */
static long exchange(int port, const char *req, size_t len, int head, char *buf,
                     size_t cap, int ms)
{
    int fd = dial(port);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* the server may refuse before reading it all */
        off += (size_t)n;
    }
    size_t got = 0;
    int shut = 0;
    int64_t end = now_ms() + ms;
    buf[0] = '\0';
    while (got + 1 < cap && !reply_complete(buf, got, head)) {
        int64_t left = end - now_ms();
        if (got > 0 && left > IDLE_MS)
            left = IDLE_MS;
        else if (got == 0 && !shut && left > NOREPLY_MS)
            left = NOREPLY_MS;
        if (left <= 0)
            break;
        struct pollfd p = {fd, POLLIN, 0};
        int pr = poll(&p, 1, (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0 && got == 0 && !shut) {
            shutdown(fd, SHUT_WR);
            shut = 1;
            continue;
        }
        if (pr <= 0)
            break;
        ssize_t n = recv(fd, buf + got, cap - 1 - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
        buf[got] = '\0';
    }
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd);
    return (long)got;
}

/* The checks on one reply (see the top of the file). */
static void check_reply(const char *req, size_t rlen, const char *rep,
                        size_t len, int is_web)
{
    if (len == 0)
        return; /* closed without an answer: a request it could not read */
    CHECK(len >= 12 && memcmp(rep, "HTTP/1.", 7) == 0,
          "a reply that does not start with a status line");
    int status = atoi(rep + 9);
    CHECK(status >= 100 && status <= 599, "a bad status code");
    const char *eoh = strstr(rep, "\r\n\r\n");
    if (eoh == NULL)
        return; /* cut at 64 KiB or 100 ms */
    size_t hlen = (size_t)(eoh - rep);
    const char *body = eoh + 4;
    size_t blen = len - hlen - 4;
    char type[128], clen[32];
    /* (a HEAD reply has a Content-Length and no body) */
    if (header(rep, hlen, "Content-Type", type, sizeof(type)) &&
        strncmp(type, "application/json", 16) == 0 &&
        header(rep, hlen, "Content-Length", clen, sizeof(clen)) &&
        strtoul(clen, NULL, 10) == blen)
        CHECK(json_ok(body, blen), "a JSON reply that is not JSON");
    if (!is_web)
        return;
    if (status == 200 || status == 303)
        CHECK(holds(req, rlen, TOKEN_OPERATOR) ||
                  holds(req, rlen, TOKEN_VIEWER),
              "a 200 or 303 without a valid token");
    if (holds(req, rlen, TOKEN_VIEWER) && !holds(req, rlen, TOKEN_OPERATOR))
        CHECK(strstr(body, "\"section\":\"GR-TR\"") == NULL,
              "the viewer got an alert of a section it may not see");
}

static void check_alive(int port, int is_web)
{
    static char rep[4096];
    static const char web_req[] =
        "GET /api/state HTTP/1.1\r\nHost: fuzz\r\n"
        "Authorization: Bearer " TOKEN_OPERATOR "\r\n\r\n";
    static const char metrics_req[] =
        "GET /healthz HTTP/1.1\r\nHost: fuzz\r\n\r\n";
    const char *req = is_web ? web_req : metrics_req;
    int64_t t0 = now_ms();
    long n = exchange(port, req, strlen(req), 0, rep, sizeof(rep), HEALTH_MS);
    if (n < 12 || memcmp(rep, "HTTP/1.1 ", 9) != 0)
        fprintf(stderr, "fuzz_http: GET %s: %ld bytes in %lld ms (%s): %.40s\n",
                is_web ? "/api/state" : "/healthz", n,
                (long long)(now_ms() - t0), strerror(errno), n > 0 ? rep : "");
    CHECK(n >= 12 && memcmp(rep, "HTTP/1.1 ", 9) == 0,
          "the server no longer answers a fresh request");
}

/* The request of a structured input into out; returns its length. */
static size_t build(uint8_t sel, const uint8_t *p, size_t n, char *out,
                    size_t cap)
{
    static const char *const tokens[] = {
        "Bearer " TOKEN_OPERATOR, "Bearer " TOKEN_VIEWER,
        "Bearer " TOKEN_UNKNOWN, "bearer   " TOKEN_OPERATOR};
    int mode = sel & 3;
    const char *method = sel & 4 ? "HEAD" : "GET";
    const char *auth = tokens[(sel >> 3) & 3];
    const uint8_t *nl = memchr(p, '\n', n);
    size_t tl = nl ? (size_t)(nl - p) : n;
    size_t o = 0;
#define ADD(s, l)                                                              \
    do {                                                                       \
        size_t l_ = (l);                                                       \
        if (o + l_ > cap)                                                      \
            l_ = cap - o;                                                      \
        memcpy(out + o, (s), l_);                                              \
        o += l_;                                                               \
    } while (0)
#define ADDS(s) ADD((s), strlen(s))
    ADDS(method);
    ADDS(" ");
    ADD(p, tl);
    ADDS(" HTTP/1.1\r\nHost: fuzz\r\n");
    if (mode == 1) {
        ADDS("Authorization: ");
        ADDS(auth);
        ADDS("\r\n");
    } else if (mode == 2) {
        ADDS("Cookie: sw_token=");
        ADDS(strchr(auth, ' ') + strspn(strchr(auth, ' '), " "));
        ADDS("\r\n");
    }
    /* the other lines: header lines (an empty one ends the head: what
     * follows is a body) */
    const uint8_t *q = nl ? nl + 1 : p + n;
    while (q < p + n) {
        const uint8_t *e = memchr(q, '\n', (size_t)(p + n - q));
        size_t l = (size_t)((e ? e : p + n) - q);
        ADD(q, l > 0 && q[l - 1] == '\r' ? l - 1 : l);
        ADDS("\r\n");
        q += l + (e != NULL);
    }
    ADDS("\r\n");
#undef ADDS
#undef ADD
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char req[REQUEST_MAX];
    static char rep[REPLY_MAX];
    if (size < 1 || size > 4096)
        return 0;
    uint8_t sel = data[0];
    int is_web = !(sel & 0x20);
    int port = is_web ? web_port : metrics_port;
    size_t len;
    if ((sel & 3) == 0) {
        len = size - 1;
        memcpy(req, data + 1, len);
    } else {
        len = build(sel, data + 1, size - 1, req, sizeof(req));
    }
    int head = len >= 5 && memcmp(req, "HEAD ", 5) == 0;
    long n = exchange(port, req, len, head, rep, sizeof(rep), REPLY_MS);
    if (n < 0)
        fprintf(stderr, "fuzz_http: connect: %s\n", strerror(errno));
    CHECK(n >= 0, "cannot connect");
    check_reply(req, len, rep, (size_t)n, is_web);

    /* wake the streams left open (one alert each viewer sees, one only
     * the operator sees) */
    put_alert(wake_seq++, "GR-TR");
    put_alert(wake_seq++, "HU-RS");
    check_alive(port, is_web);
    return 0;
}
