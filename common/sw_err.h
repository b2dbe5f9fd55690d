/*
 * sw_err: the project's error codes, their names and messages, from one
 * X-macro table (after libuv's UV_ERRNO_MAP). Functions return 0 on success
 * or a negative SW_ERR_* value; sw_strerror() turns it into text.
 */
#ifndef SW_ERR_H
#define SW_ERR_H

#define SW_ERR_MAP(X)                                                          \
    X(INVAL, -1, "invalid argument")                                           \
    X(NOMEM, -2, "out of memory")                                              \
    X(IO, -3, "input/output error")                                            \
    X(PARSE, -4, "parse error")                                                \
    X(RANGE, -5, "value out of range")                                         \
    X(KAFKA, -6, "Kafka error")                                                \
    X(CONFIG, -7, "configuration error")                                       \
    X(TIMEOUT, -8, "timed out")                                                \
    X(REDIS, -9, "Redis error")                                                \
    X(FULL, -10, "queue full")                                                 \
    X(CONFLICT, -11, "changed concurrently")                                   \
    X(NOTFOUND, -12, "not found")

typedef enum {
    SW_OK = 0,
#define SW__ERR_ENUM(name, code, msg) SW_ERR_##name = (code),
    SW_ERR_MAP(SW__ERR_ENUM)
#undef SW__ERR_ENUM
} sw_err_t;

/* Returns a static message for an SW_ERR_* code (or "unknown error").
 * Never fails. */
const char *sw_strerror(int err);

/* Returns the static name ("INVAL", ...) of an SW_ERR_* code. */
const char *sw_err_name(int err);

#endif
