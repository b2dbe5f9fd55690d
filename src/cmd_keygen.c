/* surgewatch keygen: makes a CURVE key pair for a hub or a subscriber. */
#include "sw_acl.h"
#include "sw_cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

static const char help[] =
    "usage: surgewatch keygen [--force] [NAME]\n"
    "\n"
    "Makes a CURVE key pair (docs/security.md). With NAME, writes\n"
    "NAME.key (the key pair: keep it secret, mode 0600) and NAME.pub (the\n"
    "public key, to give to the other side) and prints the public key.\n"
    "Without NAME, prints the key pair file on standard output.\n"
    "\n"
    "The files are in the ZeroMQ certificate format (as czmq and pyzmq's\n"
    "zmq.auth.load_certificate read them). A hub uses its NAME.key with\n"
    "--curve-key; a subscriber uses its own NAME.key with --key and the\n"
    "hub's NAME.pub with --server-key; the hub lists the subscriber's\n"
    "public key in its authorised keys file.\n"
    "\n"
    "  -f, --force   replace existing files\n"
    "  -h, --help    this text\n"
    "\n"
    "Example:\n"
    "  surgewatch keygen hub && surgewatch keygen centre-budapest\n"
    "  echo \"$(cat centre-budapest.pub | sed -n 's/.*public-key = "
    "\"\\(.*\\)\"/\\1/p') "
    "centre-budapest HU-RS,HR-RS\" >> subscribers\n";

int sw_cmd_keygen(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int force = 0, opt;
    while ((opt = getopt_long(argc, argv, "fh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'f':
            force = 1;
            break;
        case 'h':
            fputs(help, stdout);
            return SW_EXIT_OK;
        default:
            fprintf(stderr, "Try 'surgewatch keygen --help'.\n");
            return SW_EXIT_USAGE;
        }
    }
    if (argc - optind > 1) {
        fprintf(stderr,
                "surgewatch keygen: one NAME at most (got %d "
                "arguments)\n",
                argc - optind);
        return SW_EXIT_USAGE;
    }
    char pub[SW_Z85_KEY_LEN + 1], sec[SW_Z85_KEY_LEN + 1];
    if (zmq_curve_keypair(pub, sec) != 0) {
        fprintf(stderr, "surgewatch keygen: this libzmq has no CURVE "
                        "support (built without libsodium)\n");
        return SW_EXIT_UNAVAILABLE;
    }
    if (optind == argc) {
        printf("#   ZeroMQ CURVE **Secret** Certificate (surgewatch keygen)\n"
               "\nmetadata\ncurve\n"
               "    public-key = \"%s\"\n    secret-key = \"%s\"\n",
               pub, sec);
        return SW_EXIT_OK;
    }
    const char *name = argv[optind];
    if (*name == '\0' || strlen(name) > 4000) {
        fprintf(stderr, "surgewatch keygen: NAME must be 1..4000 bytes\n");
        return SW_EXIT_USAGE;
    }
    char kpath[4100], ppath[4100], err[4400];
    snprintf(kpath, sizeof(kpath), "%s.key", name);
    snprintf(ppath, sizeof(ppath), "%s.pub", name);
    if (sw_curve_save(kpath, pub, sec, force, err, sizeof(err)) ||
        sw_curve_save(ppath, pub, NULL, force, err, sizeof(err))) {
        fprintf(stderr, "surgewatch keygen: %s\n", err);
        return SW_EXIT_REJECTED;
    }
    printf("%s\n", pub);
    fprintf(stderr, "surgewatch keygen: wrote %s (secret, mode 0600) and %s\n",
            kpath, ppath);
    return SW_EXIT_OK;
}
