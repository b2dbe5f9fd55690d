/* sw_acl: CURVE key files and the authorised subscriber keys. */
#include "sw_acl.h"
#include "sw_event.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

int sw_z85_key_valid(const char *s, uint8_t *key32)
{
    uint8_t tmp[32];
    if (strlen(s) != SW_Z85_KEY_LEN)
        return 0;
    return zmq_z85_decode(key32 ? key32 : tmp, s) != NULL;
}

static void entry_free(sw_acl_entry_t *e)
{
    for (size_t i = 0; i < e->nsections; i++)
        free(e->sections[i]);
    free(e->sections);
}

void sw_acl_free(sw_acl_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    for (size_t i = 0; i < (*self_p)->n; i++)
        entry_free(&(*self_p)->v[i]);
    free((*self_p)->v);
    free(*self_p);
    *self_p = NULL;
}

static int name_ok(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= SW_ACL_NAME_MAX &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789._@-") == n;
}

/* Parses "HU-RS,HR-RS" or "*" into e. Returns 0, or -1 with why set. */
static int parse_sections(sw_acl_entry_t *e, char *list, const char **why)
{
    if (strcmp(list, "*") == 0) {
        e->all = 1;
        return 0;
    }
    for (char *save = NULL, *s = strtok_r(list, ",", &save); s;
         s = strtok_r(NULL, ",", &save)) {
        if (!sw_section_valid(s, strlen(s))) {
            *why = "bad section id (accepted: '*' or a comma-separated list "
                   "of section ids like HU-RS,HR-RS)";
            return -1;
        }
        char **nv =
            realloc(e->sections, (e->nsections + 1) * sizeof(*e->sections));
        if (nv == NULL || (nv[e->nsections] = strdup(s)) == NULL) {
            if (nv)
                e->sections = nv;
            *why = "out of memory";
            return -1;
        }
        e->sections = nv;
        e->nsections++;
    }
    if (e->nsections == 0) {
        *why = "no sections (accepted: '*' or a comma-separated list)";
        return -1;
    }
    return 0;
}

sw_acl_t *sw_acl_load(const char *path, char *errstr, size_t errstr_size)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
        return NULL;
    }
    sw_acl_t *acl = calloc(1, sizeof(*acl));
    char line[4096];
    int lineno = 0;
    const char *why = NULL;
    while (acl && fgets(line, sizeof(line), f)) {
        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            why = "line longer than 4095 bytes";
            break;
        }
        char *save = NULL;
        char *key = strtok_r(line, " \t\r\n", &save);
        if (key == NULL || key[0] == '#')
            continue;
        char *name = strtok_r(NULL, " \t\r\n", &save);
        char *secs = strtok_r(NULL, " \t\r\n", &save);
        char *extra = strtok_r(NULL, " \t\r\n", &save);
        if (name == NULL || secs == NULL || (extra && extra[0] != '#')) {
            why = "expected three fields: PUBLIC-KEY NAME SECTIONS";
            break;
        }
        sw_acl_entry_t e = {0};
        if (!sw_z85_key_valid(key, e.key)) {
            why = "not a CURVE public key (accepted: 40 Z85 characters, as "
                  "printed by 'surgewatch keygen')";
            break;
        }
        if (!name_ok(name)) {
            why = "bad name (accepted: 1..64 of [A-Za-z0-9._@-])";
            break;
        }
        for (size_t i = 0; i < acl->n && !why; i++) {
            if (memcmp(acl->v[i].key, e.key, 32) == 0)
                why = "this key is listed twice";
            else if (strcmp(acl->v[i].name, name) == 0)
                why = "this name is used twice (one name per key)";
        }
        if (why)
            break;
        memcpy(e.key_z85, key, SW_Z85_KEY_LEN + 1);
        snprintf(e.name, sizeof(e.name), "%s", name);
        if (parse_sections(&e, secs, &why)) {
            entry_free(&e);
            break;
        }
        sw_acl_entry_t *nv = realloc(acl->v, (acl->n + 1) * sizeof(*nv));
        if (nv == NULL) {
            entry_free(&e);
            why = "out of memory";
            break;
        }
        acl->v = nv;
        acl->v[acl->n++] = e;
    }
    int rerr = ferror(f);
    fclose(f);
    if (acl == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    if (why || rerr) {
        snprintf(errstr, errstr_size, "%s:%d: %s", path, lineno,
                 why ? why : "read error");
        sw_acl_free(&acl);
        return NULL;
    }
    return acl;
}

const sw_acl_entry_t *sw_acl_find_key(const sw_acl_t *self,
                                      const uint8_t key[32])
{
    for (size_t i = 0; self && i < self->n; i++)
        if (memcmp(self->v[i].key, key, 32) == 0)
            return &self->v[i];
    return NULL;
}

const sw_acl_entry_t *sw_acl_find_name(const sw_acl_t *self, const char *name,
                                       size_t len)
{
    for (size_t i = 0; self && i < self->n; i++)
        if (strlen(self->v[i].name) == len &&
            memcmp(self->v[i].name, name, len) == 0)
            return &self->v[i];
    return NULL;
}

static int starts_with(const char *s, size_t n, const char *p, size_t pn)
{
    return n >= pn && memcmp(s, p, pn) == 0;
}

/* The visible topic prefixes of e: "hb." then, for each section,
 * "alert.S." and "alert.S/". Writes the i-th into buf (64 bytes); returns
 * its length, or 0 past the last. */
static size_t visible_prefix(const sw_acl_entry_t *e, size_t i, char *buf)
{
    if (i == 0)
        return (size_t)snprintf(buf, 64, "hb.");
    i--;
    if (i / 2 >= e->nsections)
        return 0;
    return (size_t)snprintf(buf, 64, "alert.%s%c", e->sections[i / 2],
                            i % 2 ? '/' : '.');
}

int sw_acl_topic_visible(const sw_acl_entry_t *e, const char *topic, size_t len)
{
    if (e == NULL || e->all)
        return 1;
    char p[64];
    size_t pl;
    for (size_t i = 0; (pl = visible_prefix(e, i, p)) > 0; i++)
        if (starts_with(topic, len, p, pl))
            return 1;
    return 0;
}

void sw_acl_map_prefix(const sw_acl_entry_t *e, const char *prefix, size_t len,
                       void (*fn)(void *opaque, const char *p, size_t len),
                       void *opaque)
{
    if (e == NULL || e->all) {
        fn(opaque, prefix, len);
        return;
    }
    char p[64];
    size_t pl;
    for (size_t i = 0; (pl = visible_prefix(e, i, p)) > 0; i++) {
        if (starts_with(p, pl, prefix, len))
            fn(opaque, p, pl); /* the prefix covers this visible topic */
        else if (starts_with(prefix, len, p, pl))
            fn(opaque, prefix, len); /* the prefix lies within it */
    }
}

/* ---------------------------------------------------------- key files */

/* The value of 'name = "..."' on a line of the certificate format, or
 * NULL. */
static char *cert_value(char *line, const char *name)
{
    while (*line == ' ' || *line == '\t')
        line++;
    size_t n = strlen(name);
    if (strncmp(line, name, n) != 0)
        return NULL;
    char *v = strchr(line + n, '=');
    if (v == NULL)
        return NULL;
    v++;
    while (*v == ' ' || *v == '\t' || *v == '"' || *v == '\'')
        v++;
    char *end = v + strcspn(v, "\"'\r\n \t");
    *end = '\0';
    return v;
}

int sw_curve_load(const char *path, char *public_z85, char *secret_z85,
                  int need_secret, char *errstr, size_t errstr_size)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[512], *v;
    public_z85[0] = secret_z85[0] = '\0';
    int bad = 0;
    while (fgets(line, sizeof(line), f)) {
        if ((v = cert_value(line, "public-key")) != NULL) {
            bad |= !sw_z85_key_valid(v, NULL);
            snprintf(public_z85, SW_Z85_KEY_LEN + 1, "%s", v);
        } else if ((v = cert_value(line, "secret-key")) != NULL) {
            bad |= !sw_z85_key_valid(v, NULL);
            snprintf(secret_z85, SW_Z85_KEY_LEN + 1, "%s", v);
        }
    }
    fclose(f);
    if (bad || public_z85[0] == '\0' || (need_secret && !secret_z85[0])) {
        snprintf(errstr, errstr_size,
                 "%s: %s (accepted: a key file written by 'surgewatch "
                 "keygen', with lines public-key = \"...\"%s)",
                 path,
                 bad ? "a key is not 40 Z85 characters"
                     : (public_z85[0] ? "no secret key in it"
                                      : "no public key in it"),
                 need_secret ? " and secret-key = \"...\"" : "");
        return -1;
    }
    if (secret_z85[0]) {
        /* the public key must belong to the secret key */
        char derived[SW_Z85_KEY_LEN + 1];
        if (zmq_curve_public(derived, secret_z85) != 0 ||
            strcmp(derived, public_z85) != 0) {
            snprintf(errstr, errstr_size,
                     "%s: the public key is not the one of the secret key",
                     path);
            return -1;
        }
    }
    return 0;
}

int sw_curve_save(const char *path, const char *public_z85,
                  const char *secret_z85, int force, char *errstr,
                  size_t errstr_size)
{
    int flags = O_WRONLY | O_CREAT | (force ? O_TRUNC : O_EXCL);
    int fd = open(path, flags, secret_z85 ? 0600 : 0644);
    if (fd < 0) {
        snprintf(errstr, errstr_size, "%s: %s%s", path, strerror(errno),
                 errno == EEXIST ? " (use --force to replace it)" : "");
        return -1;
    }
    /* the mode of open() applies only to a new file: a replaced one gets
     * it here, so a secret never lands in a world-readable file */
    if (fchmod(fd, secret_z85 ? 0600 : 0644) != 0) {
        snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    FILE *f = fdopen(fd, "w");
    if (f == NULL) {
        close(fd);
        snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
        return -1;
    }
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    fprintf(f,
            "#   ****  Generated on %s by surgewatch keygen  ****\n"
            "#   ZeroMQ CURVE %s Certificate\n"
            "#   %s\n"
            "\n"
            "metadata\n"
            "curve\n"
            "    public-key = \"%s\"\n",
            when, secret_z85 ? "**Secret**" : "Public",
            secret_z85 ? "DO NOT PROVIDE THIS FILE TO OTHER USERS nor "
                         "change its permissions."
                       : "Exchange securely, or use a secure mechanism "
                         "to verify the contents of this file after "
                         "exchange.",
            public_z85);
    if (secret_z85)
        fprintf(f, "    secret-key = \"%s\"\n", secret_z85);
    if (fclose(f) != 0) {
        snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------- viewers */

void sw_viewers_free(sw_viewers_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    for (size_t i = 0; i < (*self_p)->n; i++)
        entry_free(&(*self_p)->v[i].acl);
    free((*self_p)->v);
    free(*self_p);
    *self_p = NULL;
}

const char *sw_role_name(sw_role_t role)
{
    return role == SW_ROLE_OPERATOR ? "operator" : "viewer";
}

int sw_role_parse(const char *s)
{
    if (strcmp(s, "viewer") == 0)
        return SW_ROLE_VIEWER;
    if (strcmp(s, "operator") == 0)
        return SW_ROLE_OPERATOR;
    return -1;
}

static int hex_decode32(const char *s, uint8_t out[32])
{
    if (strlen(s) != 64)
        return -1;
    for (int i = 0; i < 32; i++) {
        unsigned v = 0;
        for (int j = 0; j < 2; j++) {
            char c = s[2 * i + j];
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= (unsigned)(c - '0');
            else if (c >= 'a' && c <= 'f')
                v |= (unsigned)(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F')
                v |= (unsigned)(c - 'A' + 10);
            else
                return -1;
        }
        out[i] = (uint8_t)v;
    }
    return 0;
}

sw_viewers_t *sw_viewers_load(const char *path, char *errstr,
                              size_t errstr_size)
{
    if (sodium_init() < 0) {
        snprintf(errstr, errstr_size, "libsodium could not be initialised");
        return NULL;
    }
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
        return NULL;
    }
    sw_viewers_t *vs = calloc(1, sizeof(*vs));
    char line[4096];
    int lineno = 0;
    const char *why = NULL;
    while (vs && fgets(line, sizeof(line), f)) {
        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            why = "line longer than 4095 bytes";
            break;
        }
        char *save = NULL;
        char *hash = strtok_r(line, " \t\r\n", &save);
        if (hash == NULL || hash[0] == '#')
            continue;
        char *name = strtok_r(NULL, " \t\r\n", &save);
        char *role = strtok_r(NULL, " \t\r\n", &save);
        char *secs = strtok_r(NULL, " \t\r\n", &save);
        char *extra = strtok_r(NULL, " \t\r\n", &save);
        if (name == NULL || role == NULL || secs == NULL ||
            (extra && extra[0] != '#')) {
            why = "expected four fields: TOKEN-SHA256 NAME ROLE SECTIONS";
            break;
        }
        sw_viewer_t v = {0};
        if (hex_decode32(hash, v.hash)) {
            why = "not a token hash (accepted: 64 hex digits, the SHA-256 "
                  "of the token, as printed by 'surgewatch keygen "
                  "--web-token')";
            break;
        }
        if (!name_ok(name)) {
            why = "bad name (accepted: 1..64 of [A-Za-z0-9._@-])";
            break;
        }
        int r = sw_role_parse(role);
        if (r < 0) {
            why = "unknown role (accepted: viewer, operator)";
            break;
        }
        v.role = (sw_role_t)r;
        for (size_t i = 0; i < vs->n && !why; i++) {
            if (memcmp(vs->v[i].hash, v.hash, 32) == 0)
                why = "this token hash is listed twice";
            else if (strcmp(vs->v[i].acl.name, name) == 0)
                why = "this name is used twice";
        }
        if (why)
            break;
        snprintf(v.acl.name, sizeof(v.acl.name), "%s", name);
        if (parse_sections(&v.acl, secs, &why)) {
            entry_free(&v.acl);
            break;
        }
        sw_viewer_t *nv = realloc(vs->v, (vs->n + 1) * sizeof(*nv));
        if (nv == NULL) {
            entry_free(&v.acl);
            why = "out of memory";
            break;
        }
        vs->v = nv;
        vs->v[vs->n++] = v;
    }
    int rerr = ferror(f);
    fclose(f);
    if (vs == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    if (why || rerr) {
        snprintf(errstr, errstr_size, "%s:%d: %s", path, lineno,
                 why ? why : "read error");
        sw_viewers_free(&vs);
        return NULL;
    }
    return vs;
}

void sw_token_hash(const char *token, size_t len, uint8_t out[32])
{
    crypto_hash_sha256(out, (const unsigned char *)token, len);
}

const sw_viewer_t *sw_viewers_find_token(const sw_viewers_t *self,
                                         const char *token, size_t len)
{
    if (self == NULL)
        return NULL;
    uint8_t h[32];
    sw_token_hash(token, len, h);
    const sw_viewer_t *found = NULL;
    for (size_t i = 0; i < self->n; i++)
        if (sodium_memcmp(self->v[i].hash, h, 32) == 0)
            found = &self->v[i];
    return found;
}

const sw_viewer_t *sw_viewers_find_name(const sw_viewers_t *self,
                                        const char *name)
{
    for (size_t i = 0; self && i < self->n; i++)
        if (strcmp(self->v[i].acl.name, name) == 0)
            return &self->v[i];
    return NULL;
}

int sw_token_new(char out[SW_TOKEN_LEN + 1], char hex[65])
{
    if (sodium_init() < 0)
        return -1;
    uint8_t raw[32], h[32];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2base64(out, SW_TOKEN_LEN + 1, raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sw_token_hash(out, SW_TOKEN_LEN, h);
    sodium_bin2hex(hex, 65, h, sizeof(h));
    return 0;
}
