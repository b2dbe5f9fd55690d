/* The subcommands of the surgewatch binary. Each takes its own argv
 * (argv[0] is the subcommand name) and returns the process exit status. */
#ifndef SW_CMD_H
#define SW_CMD_H

/* Exit statuses shared by every subcommand. */
enum {
    SW_EXIT_OK = 0,
    SW_EXIT_REJECTED = 1,    /* ran, but some input was rejected or failed */
    SW_EXIT_USAGE = 2,       /* bad flags, arguments or configuration */
    SW_EXIT_UNAVAILABLE = 3, /* a server could not be reached */
    SW_EXIT_INTERRUPTED = 130,
};

int sw_cmd_publish(int argc, char **argv);
int sw_cmd_backtest(int argc, char **argv);
int sw_cmd_run(int argc, char **argv);
int sw_cmd_hub(int argc, char **argv);
int sw_cmd_subscribe(int argc, char **argv);
int sw_cmd_keygen(int argc, char **argv);
int sw_cmd_ctl(int argc, char **argv);
int sw_cmd_demo(int argc, char **argv);

#endif
