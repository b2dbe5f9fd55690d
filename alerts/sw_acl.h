/*
 * sw_acl: who may see what. CURVE key files (the ZeroMQ certificate
 * format that czmq and pyzmq's zmq.auth read and write), and the hub's
 * list of authorised subscriber keys with the sections each may see
 * (docs/security.md):
 *
 *   # public key (Z85, 40 characters)        name              sections
 *   Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID  centre-budapest   HU-RS,HR-RS
 *   rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7  frontex-hq        *
 *
 * A section entry also covers its subsections ("HU-RS" covers
 * "HU-RS/roszke"); "*" is every section.
 */
#ifndef SW_ACL_H
#define SW_ACL_H

#include <stddef.h>
#include <stdint.h>

#define SW_Z85_KEY_LEN 40
#define SW_ACL_NAME_MAX 64

typedef struct sw_acl_entry {
    uint8_t key[32];
    char key_z85[SW_Z85_KEY_LEN + 1];
    char name[SW_ACL_NAME_MAX + 1];
    int all; /* "*" */
    char **sections;
    size_t nsections;
} sw_acl_entry_t;

typedef struct sw_acl {
    sw_acl_entry_t *v;
    size_t n;
} sw_acl_t;

/* Reads an authorised-keys file. Returns NULL with errstr set to
 * "FILE:LINE: what is wrong (accepted: ...)" on the first bad line (a
 * malformed key, a name used twice, a key listed twice, a bad section id),
 * or when the file cannot be read. */
sw_acl_t *sw_acl_load(const char *path, char *errstr, size_t errstr_size);

void sw_acl_free(sw_acl_t **self_p);

/* The entry of a 32-byte public key, or NULL. */
const sw_acl_entry_t *sw_acl_find_key(const sw_acl_t *self,
                                      const uint8_t key[32]);

/* The entry of a name (the ZAP user id the hub gave the connection), or
 * NULL. */
const sw_acl_entry_t *sw_acl_find_name(const sw_acl_t *self, const char *name,
                                       size_t len);

/* 1 when e may see the topic "alert.<section>." (e NULL: no access
 * control, everything is visible), else 0. Heartbeat topics ("hb.") are
 * visible to every entry. */
int sw_acl_topic_visible(const sw_acl_entry_t *e, const char *topic,
                         size_t len);

/* Calls fn for each topic prefix the subscription "prefix" becomes for e:
 * the prefix itself when everything it covers is visible to e, else the
 * visible topics it covers ("alert.HU-RS.", "alert.HU-RS/", "hb.") and
 * the narrower prefix where the prefix lies within one of them. */
void sw_acl_map_prefix(const sw_acl_entry_t *e, const char *prefix, size_t len,
                       void (*fn)(void *opaque, const char *p, size_t len),
                       void *opaque);

/*
 * The web view's viewers (docs/web.md): a file of lines
 *
 *   # sha256 of the token (64 hex)  name      role      sections
 *   9f86d0...0f00a08                wall-hq   viewer    *
 *
 * role: viewer (sees) or operator (also previews threshold changes). The
 * tokens themselves are not stored, only their SHA-256.
 */
#define SW_TOKEN_LEN 43 /* 32 random bytes, base64url without padding */

typedef enum { SW_ROLE_VIEWER, SW_ROLE_OPERATOR } sw_role_t;

typedef struct sw_viewer {
    uint8_t hash[32];
    sw_role_t role;
    sw_acl_entry_t acl; /* name, all, sections (key unused) */
} sw_viewer_t;

typedef struct sw_viewers {
    sw_viewer_t *v;
    size_t n;
} sw_viewers_t;

/* Reads a viewers file. Returns NULL with errstr set to "FILE:LINE: what
 * is wrong (accepted: ...)" on the first bad line (a malformed hash, an
 * unknown role, a name or hash used twice, a bad section id), or when the
 * file cannot be read. */
sw_viewers_t *sw_viewers_load(const char *path, char *errstr,
                              size_t errstr_size);
void sw_viewers_free(sw_viewers_t **self_p);

/* The viewer whose token this is (compared in constant time), or NULL. */
const sw_viewer_t *sw_viewers_find_token(const sw_viewers_t *self,
                                         const char *token, size_t len);

/* The viewer of a name, or NULL. */
const sw_viewer_t *sw_viewers_find_name(const sw_viewers_t *self,
                                        const char *name);

/* A new random token (SW_TOKEN_LEN characters and a NUL into out) and the
 * lowercase hex of its SHA-256 (65 bytes into hex). Returns 0, or -1 when
 * libsodium cannot be initialised. */
int sw_token_new(char out[SW_TOKEN_LEN + 1], char hex[65]);

/* The SHA-256 of a token. */
void sw_token_hash(const char *token, size_t len, uint8_t out[32]);

/* "viewer" / "operator"; sw_role_parse returns the role or -1. */
const char *sw_role_name(sw_role_t role);
int sw_role_parse(const char *s);

/* Reads a key file (the certificate format: lines 'public-key = "..."'
 * and 'secret-key = "..."'). public_z85 and secret_z85 get 41 bytes each;
 * need_secret: fail when there is no secret key. Returns 0, or -1 with
 * errstr set. */
int sw_curve_load(const char *path, char *public_z85, char *secret_z85,
                  int need_secret, char *errstr, size_t errstr_size);

/* Writes a key file: with the secret key (mode 0600) when secret_z85 is
 * not NULL, else the public key alone (mode 0644). Fails rather than
 * overwrite unless force. Returns 0, or -1 with errstr set. */
int sw_curve_save(const char *path, const char *public_z85,
                  const char *secret_z85, int force, char *errstr,
                  size_t errstr_size);

/* 1 when s is a 40-character Z85 key (decoded into key32 when not NULL). */
int sw_z85_key_valid(const char *s, uint8_t *key32);

#endif
