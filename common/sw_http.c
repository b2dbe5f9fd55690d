/* sw_http: /metrics and /healthz over libmicrohttpd. */
#include "sw_http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sw_http {
    struct MHD_Daemon *d;
    int port;
    pthread_mutex_t mu;
    char *metrics;
    size_t metrics_len;
    int healthy;
    char *health;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status,
                             const char *type, const char *body, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
                              const char *url, const char *method,
                              const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req_cls)
{
    (void)version;
    (void)upload_data;
    sw_http_t *h = cls;
    if (*req_cls == NULL) { /* headers only so far: wait for the body */
        *req_cls = h;
        return MHD_YES;
    }
    if (*upload_data_size) { /* a body nobody asked for: skip it */
        *upload_data_size = 0;
        return MHD_YES;
    }
    static const char text[] = "text/plain; charset=utf-8";
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        static const char m[] = "method not allowed (accepted: GET, HEAD)\n";
        return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, text, m, sizeof(m) - 1);
    }
    enum MHD_Result ret;
    if (strcmp(url, "/metrics") == 0) {
        pthread_mutex_lock(&h->mu);
        ret = reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4",
                    h->metrics ? h->metrics : "", h->metrics_len);
        pthread_mutex_unlock(&h->mu);
        return ret;
    }
    if (strcmp(url, "/healthz") == 0) {
        char body[512];
        pthread_mutex_lock(&h->mu);
        int ok = h->healthy;
        snprintf(body, sizeof(body), "%s\n",
                 h->health ? h->health : "starting");
        pthread_mutex_unlock(&h->mu);
        return reply(conn, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
                     text, body, strlen(body));
    }
    static const char nf[] = "not found (paths: /metrics, /healthz)\n";
    return reply(conn, MHD_HTTP_NOT_FOUND, text, nf, sizeof(nf) - 1);
}

int sw_http_parse_listen(const char *listen, struct sockaddr_in *out,
                         char *errstr, size_t errstr_size)
{
    const char *colon = listen ? strrchr(listen, ':') : NULL;
    char host[64];
    char *end;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (colon == NULL || colon == listen ||
        (size_t)(colon - listen) >= sizeof(host) || colon[1] == '\0' ||
        *end != '\0' || port < 0 || port > 65535) {
        snprintf(errstr, errstr_size,
                 "bad listen address '%s' (accepted: HOST:PORT, HOST an "
                 "IPv4 address or *, PORT 0..65535)",
                 listen ? listen : "");
        return -1;
    }
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (strcmp(host, "*") == 0)
        sa.sin_addr.s_addr = htonl(INADDR_ANY);
    else if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        snprintf(errstr, errstr_size,
                 "bad listen address '%s': '%s' is not an IPv4 address "
                 "(accepted: HOST:PORT, HOST an IPv4 address or *)",
                 listen, host);
        return -1;
    }
    *out = sa;
    return 0;
}

sw_http_t *sw_http_start(const char *listen, char *errstr, size_t errstr_size)
{
    struct sockaddr_in sa;
    if (sw_http_parse_listen(listen, &sa, errstr, errstr_size))
        return NULL;
    sw_http_t *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&h->mu, NULL);
    h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
                            handle, h, MHD_OPTION_SOCK_ADDR, &sa,
                            MHD_OPTION_CONNECTION_LIMIT, 64u,
                            MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
    if (h->d == NULL) {
        snprintf(errstr, errstr_size,
                 "cannot listen on %s (address in use, or not an address "
                 "of this machine)",
                 listen);
        pthread_mutex_destroy(&h->mu);
        free(h);
        return NULL;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : (int)ntohs(sa.sin_port);
    return h;
}

int sw_http_port(const sw_http_t *self)
{
    return self->port;
}

int sw_http_publish(sw_http_t *self, const char *metrics, size_t len,
                    int healthy, const char *health)
{
    char *m = malloc(len + 1);
    char *hc = strdup(health ? health : "");
    if (m == NULL || hc == NULL) {
        free(m);
        free(hc);
        return -1;
    }
    memcpy(m, metrics, len);
    m[len] = '\0';
    pthread_mutex_lock(&self->mu);
    char *om = self->metrics, *oh = self->health;
    self->metrics = m;
    self->metrics_len = len;
    self->healthy = healthy;
    self->health = hc;
    pthread_mutex_unlock(&self->mu);
    free(om);
    free(oh);
    return 0;
}

void sw_http_stop(sw_http_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    sw_http_t *h = *self_p;
    MHD_stop_daemon(h->d);
    pthread_mutex_destroy(&h->mu);
    free(h->metrics);
    free(h->health);
    free(h);
    *self_p = NULL;
}
