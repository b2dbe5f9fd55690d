/* sw_log: the single place that writes log lines (stderr, one per entry). */
#include "sw_log.h"
#include "sw_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int sw_log_level = SW_LOG_INFO;

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void sw_log_write(sw_log_level_t level, const char *module, const char *fmt,
                  ...)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = (int)strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ", &tm);
    n += snprintf(line + n, sizeof(line) - (size_t)n,
                  " %s %s: ", level_names[level], module);
    va_list ap;
    va_start(ap, fmt);
    if (n < (int)sizeof(line))
        vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    size_t len = strnlen(line, sizeof(line) - 2);
    line[len++] = '\n';
    fwrite(line, 1, len, stderr);
}

int sw_log_level_parse(const char *text, int *level)
{
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(text, level_names[i]) == 0 ||
            (i == 1 && strcasecmp(text, "warning") == 0)) {
            *level = i;
            return 0;
        }
    }
    return SW_ERR_INVAL;
}
