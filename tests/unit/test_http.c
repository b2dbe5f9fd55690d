/*
 * Unit tests for sw_http: the /metrics and /healthz endpoint, spoken to
 * over a real loopback socket with hand-written HTTP/1.0 requests.
 */
#include "sw_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

/* Sends req to 127.0.0.1:port, returns the whole response (static). */
static const char *request(int port, const char *req)
{
    static char buf[65536];
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    size_t len = strlen(req);
    assert_int_equal(write(fd, req, len), (ssize_t)len);
    size_t n = 0;
    ssize_t r;
    while (n < sizeof(buf) - 1 &&
           (r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = '\0';
    close(fd);
    return buf;
}

static void test_serves_what_was_published(void **state)
{
    (void)state;
    char err[256];
    sw_http_t *h = sw_http_start("127.0.0.1:0", err, sizeof(err));
    assert_non_null(h);
    int port = sw_http_port(h);
    assert_true(port > 0);

    /* before anything is published: 503 "starting", empty metrics */
    const char *r = request(port, "GET /healthz HTTP/1.0\r\n\r\n");
    assert_non_null(strstr(r, " 503 "));
    assert_non_null(strstr(r, "starting"));

    const char m[] = "# TYPE surgewatch_x counter\nsurgewatch_x 42\n";
    assert_int_equal(sw_http_publish(h, m, strlen(m), 1, "ok: fine"), 0);
    r = request(port, "GET /metrics HTTP/1.0\r\n\r\n");
    assert_non_null(strstr(r, " 200 "));
    assert_non_null(strstr(r, "text/plain; version=0.0.4"));
    assert_non_null(strstr(r, "surgewatch_x 42\n"));
    r = request(port, "GET /healthz HTTP/1.0\r\n\r\n");
    assert_non_null(strstr(r, " 200 "));
    assert_non_null(strstr(r, "ok: fine\n"));

    assert_int_equal(sw_http_publish(h, "", 0, 0, "redis down"), 0);
    r = request(port, "GET /healthz HTTP/1.0\r\n\r\n");
    assert_non_null(strstr(r, " 503 "));
    assert_non_null(strstr(r, "redis down"));

    r = request(port, "GET /nope HTTP/1.0\r\n\r\n");
    assert_non_null(strstr(r, " 404 "));
    assert_non_null(strstr(r, "/metrics, /healthz"));
    r = request(port, "POST /metrics HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc");
    assert_non_null(strstr(r, " 405 "));
    /* garbage is answered, not fatal */
    r = request(port, "\x01\x02 not http at all\r\n\r\n");
    r = request(port, "GET /healthz HTTP/1.0\r\n\r\n");
    assert_non_null(strstr(r, " 503 "));
    sw_http_stop(&h);
    assert_null(h);
    sw_http_stop(&h); /* NULL is fine */
}

static void test_bad_addresses(void **state)
{
    (void)state;
    char err[256];
    const char *bad[] = {"",
                         "9464",
                         ":9464",
                         "localhost:9464",
                         "1.2.3.4:",
                         "127.0.0.1:65536",
                         "127.0.0.1:-1",
                         "127.0.0.1:80x",
                         "::1:9464"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_null(sw_http_start(bad[i], err, sizeof(err)));
        assert_non_null(strstr(err, "accepted: HOST:PORT"));
    }
    /* a port in use */
    sw_http_t *a = sw_http_start("127.0.0.1:0", err, sizeof(err));
    assert_non_null(a);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", sw_http_port(a));
    assert_null(sw_http_start(addr, err, sizeof(err)));
    assert_non_null(strstr(err, "cannot listen"));
    sw_http_stop(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serves_what_was_published),
        cmocka_unit_test(test_bad_addresses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
