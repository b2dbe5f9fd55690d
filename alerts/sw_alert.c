/* sw_alert: JSON text of an alert transition. */
#include "sw_alert.h"
#include "sw_time.h"

#include <math.h>
#include <stdio.h>

/* Numbers as JSON numbers; never NaN or infinity (not JSON). */
static double json_num(double v)
{
    return isfinite(v) ? v : (v > 0 ? 1e300 : (v < 0 ? -1e300 : 0));
}

size_t sw_alert_to_json(const sw_alert_t *a, uint64_t seq, char *buf,
                        size_t cap)
{
    char ws[SW_TIME_STR_MAX], we[SW_TIME_STR_MAX], ra[SW_TIME_STR_MAX];
    char seqs[32] = "", type[48] = "";
    if (seq > 0)
        snprintf(seqs, sizeof(seqs), "\"seq\":%llu,", (unsigned long long)seq);
    if (a->type >= 0)
        snprintf(type, sizeof(type), "\"type\":\"%s\",",
                 sw_event_type_name((sw_event_type_t)a->type));
    int n = snprintf(
        buf, cap,
        "{%s\"alert_id\":\"%s\",\"state\":\"%s\",\"section\":\"%s\",%s"
        "\"detector\":\"%s\",\"level\":\"%s\",\"window_start\":\"%s\","
        "\"window_end\":\"%s\",\"observed\":%.6g,\"expected\":%.6g,"
        "\"score\":%.6g,\"threshold\":%.6g,\"raised_at\":\"%s\"%s}",
        seqs, a->alert_id, sw_alert_state_name(a->state), a->section, type,
        sw_detector_name(a->detector), sw_level_name(a->level),
        sw_time_format(a->window_start, ws), sw_time_format(a->window_end, we),
        json_num(a->observed), json_num(a->expected), json_num(a->score),
        json_num(a->threshold), sw_time_format(a->raised_at, ra),
        a->retracted ? ",\"retracted\":true" : "");
    if (n < 0 || (size_t)n >= cap)
        return 0;
    return (size_t)n;
}
