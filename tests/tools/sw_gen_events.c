/*
 * sw_gen_events: writes synthetic border-detection events for tests and
 * benchmarks, as JSON lines, CSV or length-prefixed msgpack, with the
 * sections and flows of docs (shared DOMAIN.md): weighted sections, the
 * seven event types, group sizes from 1 to a few dozen, optional
 * nationality and position. Optionally every K-th line is malformed in one
 * of several ways, and the numbers of those lines are written to a file.
 *
 * usage: sw_gen_events [--count N] [--format json|csv|msgpack] [--seed S]
 *                      [--start RFC3339] [--days D] [--bad-every K]
 *                      [--bad-list FILE] [--sections N]
 *
 * --sections N spreads the events over N sections: the real ones, then
 * sub-sections of them ("GR-MK/s0042"). msgpack writes a stream of
 * concatenated maps (no bad lines).
 */
#include "sw_event.h"
#include "sw_time.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *section;
    int weight;
} sections[] = {
    {"GR-MK", 20},         {"BA-HR", 12}, {"HR-SI", 12}, {"HU-RS", 9},
    {"BA-ME", 6},          {"HR-RS", 6},  {"AL-ME", 5},  {"BA-RS", 8},
    {"AL-GR", 10},         {"RO-RS", 2},  {"BG-RS", 2},  {"MK-RS", 2},
    {"RS-XK", 1},          {"ME-RS", 1},  {"AL-XK", 1},  {"AL-MK", 1},
    {"HR-SI/karlovac", 2},
};
#define NSECTIONS (sizeof(sections) / sizeof(sections[0]))

static const char *const nats[] = {"AFG", "SYR", "PAK", "IRQ", "MA",
                                   "BGD", "IRN", "DZ",  "TUN", "IND"};

static uint64_t rng_state;
static uint64_t rnd(void)
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * UINT64_C(2685821657736338717);
}

static void usage(void)
{
    fputs("usage: sw_gen_events [--count N] [--format json|csv|msgpack]\n"
          "         [--seed S] [--start RFC3339] [--days D] [--bad-every K]\n"
          "         [--bad-list FILE] [--sections N]\n",
          stderr);
}

/* msgpack: build the event and encode it with the project's encoder */
static void put_msgpack(const char *sec, const char *src, long long i,
                        int64_t ts, int type, int cnt, const char *nat)
{
    sw_event_t ev;
    sw_event_reset(&ev);
    ev.id_len = (uint8_t)snprintf(ev.id, sizeof(ev.id), "%s-%lld", src, i);
    memcpy(ev.src, src, 3);
    ev.section_len =
        (uint8_t)snprintf(ev.section, sizeof(ev.section), "%s", sec);
    ev.ts_ms = ts;
    ev.type = (sw_event_type_t)type;
    ev.count = (uint32_t)cnt;
    ev.seen = SW_FIELDS_REQUIRED;
    if (nat) {
        snprintf(ev.nat, sizeof(ev.nat), "%s", nat);
        ev.seen |= 1u << SW_F_NAT;
    }
    unsigned char buf[SW_EVENT_MSGPACK_MAX];
    size_t n = sw_event_encode_msgpack(&ev, buf, sizeof(buf));
    fwrite(buf, 1, n, stdout);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"count", required_argument, NULL, 'n'},
        {"format", required_argument, NULL, 'f'},
        {"seed", required_argument, NULL, 's'},
        {"start", required_argument, NULL, 'S'},
        {"days", required_argument, NULL, 'd'},
        {"bad-every", required_argument, NULL, 'b'},
        {"bad-list", required_argument, NULL, 'l'},
        {"sections", required_argument, NULL, 'N'},
        {NULL, 0, NULL, 0},
    };
    long long count = 1000, days = 365, bad_every = 0;
    int csv = 0, mp = 0;
    long long nsections = 0;
    int64_t start = 1546300800000; /* 2019-01-01 */
    const char *bad_list = NULL;
    rng_state = 42;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'n':
            count = atoll(optarg);
            break;
        case 'f':
            if (strcmp(optarg, "csv") == 0)
                csv = 1;
            else if (strcmp(optarg, "msgpack") == 0)
                mp = 1;
            else if (strcmp(optarg, "json") != 0) {
                usage();
                return 2;
            }
            break;
        case 's':
            rng_state = strtoull(optarg, NULL, 10) | 1;
            break;
        case 'S':
            if (sw_time_parse_rfc3339(optarg, strlen(optarg), &start)) {
                fprintf(stderr, "sw_gen_events: bad --start\n");
                return 2;
            }
            break;
        case 'd':
            days = atoll(optarg);
            break;
        case 'b':
            bad_every = atoll(optarg);
            break;
        case 'l':
            bad_list = optarg;
            break;
        case 'N':
            nsections = atoll(optarg);
            break;
        default:
            usage();
            return 2;
        }
    }
    if (count < 0 || days < 1) {
        usage();
        return 2;
    }
    FILE *bl = NULL;
    if (bad_list && (bl = fopen(bad_list, "w")) == NULL) {
        perror(bad_list);
        return 1;
    }
    static char obuf[1 << 20];
    setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));
    int total_w = 0;
    for (size_t i = 0; i < NSECTIONS; i++)
        total_w += sections[i].weight;
    long long line = 0;
    if (csv) {
        puts("id,src,section,ts,type,count,nat,bcp,lat,lon,confidence");
        line++;
    }
    int64_t span = days * SW_MS_PER_DAY;
    for (long long i = 0; i < count; i++) {
        line++;
        int w = (int)(rnd() % (uint64_t)total_w);
        size_t s = 0;
        while (w >= sections[s].weight)
            w -= sections[s++].weight;
        const char *sec = sections[s].section;
        char subsec[SW_SECTION_MAX + 1];
        if (nsections > 0) {
            /* uniform over nsections: real sections first, then
             * sub-sections of the real ones */
            long long x = (long long)(rnd() % (uint64_t)nsections);
            s = (size_t)(x % (long long)NSECTIONS);
            sec = sections[s].section;
            if (x >= (long long)NSECTIONS && strchr(sec, '/') == NULL) {
                snprintf(subsec, sizeof(subsec), "%s/s%05lld", sec, x);
                sec = subsec;
            }
        }
        char src[3] = {sec[(rnd() & 1) ? 3 : 0], sec[(rnd() & 1) ? 4 : 1], 0};
        src[1] = src[0] == sec[0] ? sec[1] : sec[4];
        int64_t ts =
            start +
            (int64_t)((double)span * (double)i / (double)(count ? count : 1)) +
            (int64_t)(rnd() % 3600000);
        int type = (int)(rnd() % 100);
        type = type < 45   ? 0
               : type < 55 ? 1
               : type < 80 ? 2
               : type < 84 ? 3
               : type < 94 ? 4
               : type < 98 ? 5
                           : 6;
        const char *tname = sw_event_type_name((sw_event_type_t)type);
        int cnt = 1 + (int)(rnd() % 4);
        if (rnd() % 10 == 0)
            cnt += (int)(rnd() % 60);
        const char *nat = rnd() % 3 ? nats[rnd() % 10] : NULL;
        int pos = rnd() % 4 == 0;
        double lat = 40 + (double)(rnd() % 800000) / 100000.0;
        double lon = 15 + (double)(rnd() % 800000) / 100000.0;
        char ts_text[SW_TIME_STR_MAX];
        int text_ts = rnd() % 2;
        if (text_ts)
            sw_time_format(ts, ts_text);

        if (mp) {
            put_msgpack(sec, src, i, ts, type, cnt, nat);
            continue;
        }
        int bad = bad_every > 0 && (i + 1) % bad_every == 0;
        int kind = bad ? (int)((i / bad_every) % 8) : -1;
        if (bad && bl)
            fprintf(bl, "%lld\n", line);
        if (!csv) {
            if (kind == 0) {
                printf("{\"id\":\"%s-%lld\",\"src\":\"%s\",\"section\n", src, i,
                       src);
                continue;
            }
            printf("{\"id\":\"%s-%lld\",\"src\":\"%s\",\"section\":\"%s\","
                   "\"ts\":",
                   src, i, src, kind == 3 ? "RS-HU" : sec);
            if (kind == 5)
                printf("4102444800000");
            else if (text_ts)
                printf("\"%s\"", ts_text);
            else
                printf("%lld", (long long)ts);
            printf(",\"type\":\"%s\",\"count\":%d",
                   kind == 2 ? "swimming" : tname, kind == 1 ? 0 : cnt);
            if (kind == 4)
                printf(",\"extra\":1");
            if (kind == 6)
                printf(",\"nat\":[\"SYR\"]");
            else if (nat)
                printf(",\"nat\":\"%s\"", nat);
            if (kind == 7)
                printf(",\"lat\":\"north\"");
            else if (pos)
                printf(",\"lat\":%.5f,\"lon\":%.5f", lat, lon);
            puts("}");
        } else {
            if (kind == 0) {
                printf("\"%s-%lld,%s\n", src, i, src);
                continue;
            }
            printf("%s-%lld,%s,%s,", src, i, src, kind == 3 ? "RS-HU" : sec);
            if (kind == 5)
                printf("4102444800000");
            else if (text_ts)
                printf("%s", ts_text);
            else
                printf("%lld", (long long)ts);
            printf(",%s,%d,%s,%s,", kind == 2 ? "swimming" : tname,
                   kind == 1 ? 0 : cnt,
                   kind == 6 ? "syria"
                   : nat     ? nat
                             : "",
                   kind == 4 ? "Horgo\xff" : "");
            if (kind == 7)
                printf("north,19.5,");
            else if (pos)
                printf("%.5f,%.5f,", lat, lon);
            else
                printf(",,");
            puts(rnd() % 2 ? "0.9" : "");
        }
    }
    if (bl)
        fclose(bl);
    return fflush(stdout) == 0 ? 0 : 1;
}
