/* surgewatch: the entry point; dispatches to a subcommand. */
#include "sw_cmd.h"

#include <stdio.h>
#include <string.h>

#ifndef SW_VERSION
#define SW_VERSION "0.1.0"
#endif

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} commands[] = {
    {"demo", sw_cmd_demo,
     "the whole pipeline on this machine, on a realistic scenario, live"},
    {"publish", sw_cmd_publish,
     "read events (JSON lines or CSV), validate, produce them to Kafka"},
    {"run", sw_cmd_run,
     "the ingest worker: Kafka events -> windows -> detectors -> Redis "
     "alerts"},
    {"hub", sw_cmd_hub,
     "the alert fan-out: Redis alert log -> ZeroMQ PUB, with replay"},
    {"subscribe", sw_cmd_subscribe,
     "receive alerts from hubs, print each once as a JSON line"},
    {"keygen", sw_cmd_keygen, "make a CURVE key pair for a hub or subscriber"},
    {"ctl", sw_cmd_ctl,
     "operators: live thresholds, preview, silences, acks, audit log"},
    {"backtest", sw_cmd_backtest,
     "run the detectors over past events, print the alerts as JSON lines"},
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: surgewatch COMMAND [OPTIONS] [ARGS]\n"
            "\n"
            "surgewatch is an early-warning stream processor for border\n"
            "management: national centres publish border-detection events\n"
            "to Kafka; surgewatch counts them per border section and flags\n"
            "surges.\n"
            "\n"
            "Commands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n"
                 "Run 'surgewatch COMMAND --help' for a command's options.\n"
                 "  -h, --help      this text\n"
                 "  -V, --version   print the version\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return SW_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 ||
        strcmp(cmd, "help") == 0) {
        usage(stdout);
        return SW_EXIT_OK;
    }
    if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0 ||
        strcmp(cmd, "version") == 0) {
        printf("surgewatch %s\n", SW_VERSION);
        return SW_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "surgewatch: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return SW_EXIT_USAGE;
}
