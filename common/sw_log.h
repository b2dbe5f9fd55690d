/*
 * sw_log: one line per entry on stderr,
 *   2026-11-22T08:00:00Z WARN ingest: message
 * The level is checked before any formatting, so a disabled SW_DEBUG costs
 * one comparison. Only entry points and the layer that handles an error log;
 * library code returns errors instead.
 */
#ifndef SW_LOG_H
#define SW_LOG_H

typedef enum {
    SW_LOG_ERROR = 0,
    SW_LOG_WARN = 1,
    SW_LOG_INFO = 2,
    SW_LOG_DEBUG = 3,
} sw_log_level_t;

extern int sw_log_level;

/* Formats and writes one log line; use the macros below instead. */
void sw_log_write(sw_log_level_t level, const char *module, const char *fmt,
                  ...) __attribute__((format(printf, 3, 4)));

/* Parses "error", "warn", "info" or "debug" into *level. Returns 0, or
 * SW_ERR_INVAL for any other text. */
int sw_log_level_parse(const char *text, int *level);

#define SW_LOG(level, module, ...)                                             \
    do {                                                                       \
        if ((int)(level) <= sw_log_level)                                      \
            sw_log_write((level), (module), __VA_ARGS__);                      \
    } while (0)

#define SW_ERROR(module, ...) SW_LOG(SW_LOG_ERROR, module, __VA_ARGS__)
#define SW_WARN(module, ...) SW_LOG(SW_LOG_WARN, module, __VA_ARGS__)
#define SW_INFO(module, ...) SW_LOG(SW_LOG_INFO, module, __VA_ARGS__)
#define SW_DEBUG(module, ...) SW_LOG(SW_LOG_DEBUG, module, __VA_ARGS__)

#endif
