/* surgewatch keygen: makes a CURVE key pair for a hub or a subscriber. */
#include "sw_acl.h"
#include "sw_cmd.h"
#include "sw_event.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

static const char help[] =
    "usage: surgewatch keygen [--force] [NAME]\n"
    "       surgewatch keygen --web-token NAME [--role ROLE] "
    "[--sections LIST]\n"
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
    "With --web-token, makes an access token for the hub's web view\n"
    "(docs/web.md) instead: prints 'token: TOKEN' (give it to the viewer;\n"
    "it is not stored anywhere) and 'line: SHA256 NAME ROLE SECTIONS' (add\n"
    "it to the hub's --web-viewers file, then SIGHUP the hub).\n"
    "\n"
    "  -f, --force          replace existing files\n"
    "      --web-token NAME a web view token for NAME (1..64 of\n"
    "                       [A-Za-z0-9._@-])\n"
    "      --role ROLE      viewer (sees) or operator (also previews\n"
    "                       threshold changes); default viewer\n"
    "      --sections LIST  '*' or section ids like HU-RS,HR-RS (each\n"
    "                       covers its subsections); default '*'\n"
    "  -h, --help           this text\n"
    "\n"
    "Exit status: 0 done; 2 bad arguments; 3 files exist (without\n"
    "--force) or cannot be written.\n"
    "\n"
    "Example:\n"
    "  surgewatch keygen hub && surgewatch keygen centre-budapest\n"
    "  echo \"$(cat centre-budapest.pub | sed -n 's/.*public-key = "
    "\"\\(.*\\)\"/\\1/p') "
    "centre-budapest HU-RS,HR-RS\" >> subscribers\n"
    "  surgewatch keygen --web-token centre-budapest --sections HU-RS,HR-RS\n";

/* --web-token: prints a token and its viewers-file line. */
static int web_token(const char *name, const char *role, const char *sections)
{
    size_t n = strlen(name);
    if (n == 0 || n > SW_ACL_NAME_MAX ||
        strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789._@-") != n) {
        fprintf(stderr,
                "surgewatch keygen: --web-token '%s': bad name (accepted: "
                "1..64 of [A-Za-z0-9._@-])\n",
                name);
        return SW_EXIT_USAGE;
    }
    if (sw_role_parse(role) < 0) {
        fprintf(stderr,
                "surgewatch keygen: --role '%s': unknown role (accepted: "
                "viewer, operator)\n",
                role);
        return SW_EXIT_USAGE;
    }
    if (strcmp(sections, "*") != 0) {
        const char *p = sections;
        for (;;) {
            const char *c = strchr(p, ',');
            size_t l = c ? (size_t)(c - p) : strlen(p);
            if (!sw_section_valid(p, l)) {
                fprintf(stderr,
                        "surgewatch keygen: --sections '%s': '%.*s' is not a "
                        "section id (accepted: '*' or a comma-separated "
                        "list like HU-RS,HR-RS)\n",
                        sections, (int)l, p);
                return SW_EXIT_USAGE;
            }
            if (c == NULL)
                break;
            p = c + 1;
        }
    }
    char token[SW_TOKEN_LEN + 1], hex[65];
    if (sw_token_new(token, hex)) {
        fprintf(stderr, "surgewatch keygen: libsodium could not be "
                        "initialised (no random source?)\n");
        return SW_EXIT_UNAVAILABLE;
    }
    printf("token: %s\nline: %s %s %s %s\n", token, hex, name, role, sections);
    return SW_EXIT_OK;
}

int sw_cmd_keygen(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"force", no_argument, NULL, 'f'},
        {"web-token", required_argument, NULL, 'w'},
        {"role", required_argument, NULL, 'R'},
        {"sections", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int force = 0, opt;
    const char *web = NULL, *role = NULL, *sections = NULL;
    while ((opt = getopt_long(argc, argv, "fh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'w':
            web = optarg;
            break;
        case 'R':
            role = optarg;
            break;
        case 'S':
            sections = optarg;
            break;
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
    if (web) {
        if (optind < argc) {
            fprintf(stderr,
                    "surgewatch keygen: unexpected argument '%s' with "
                    "--web-token\n",
                    argv[optind]);
            return SW_EXIT_USAGE;
        }
        return web_token(web, role ? role : "viewer",
                         sections ? sections : "*");
    }
    if (role || sections) {
        fprintf(stderr, "surgewatch keygen: --role and --sections go with "
                        "--web-token\n");
        return SW_EXIT_USAGE;
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
