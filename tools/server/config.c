/* config.c - difflm-server's options. Every number is checked whole and in range, so that
 * a typo ("--port 80x") is refused instead of read as a prefix. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "default_model.h"
#include "difflm.h"

void config_usage(FILE *f) {
    fprintf(f,
        "usage: difflm-server [options]\n"
        "  -m, --model PATH        GGUF model (default: $DIFFLM_MODEL, else %s)\n"
        "      --alias NAME        the model's id in the API (default: the file name\n"
        "                          without .gguf)\n"
        "      --host ADDR         address to listen on (default 127.0.0.1)\n"
        "      --port N            port, 0 .. 65535 (default 8080; 0 = any free port);\n"
        "                          the bound port is printed on standard output\n"
        "  -c, --contexts N        generations that run at once, 1 .. 256 (default 1)\n"
        "  -t, --threads N         threads per context (default 0 = cores / contexts)\n"
        "      --queue N           requests that may wait for a context, 0 .. 4096\n"
        "                          (default 16); one more gets 503\n"
        "      --api-key KEY       require 'Authorization: Bearer KEY' on /v1/\n"
        "                          (default: $DIFFLM_API_KEY, else none)\n"
        "      --max-canvas N      longest prompt + generation (default: the model's\n"
        "                          context, at most 2048)\n"
        "      --precision NAME    exact | bf16: the contexts' products over F32/F16/BF16\n"
        "                          weights in f32 (default) or with bf16 operands and f32\n"
        "                          sums (faster, less exact)\n"
        "      --pack-weights NAME auto | off | on: pack those weights once, one copy\n"
        "                          shared by the contexts (same results, more memory;\n"
        "                          auto: bf16 always, exact when at most 1 GiB)\n"
        "      --max-gen-length N  largest max_tokens a request may ask (default 1024)\n"
        "      --gen-length N      max_tokens when a request gives none (default 128)\n"
        "      --max-body BYTES    largest request body (default 1048576)\n"
        "      --timeout S         seconds an idle connection is kept (default 60)\n"
        "  -v, --verbose           print the library's and the HTTP layer's messages\n"
        "      --version           print the versions\n"
        "  -h, --help              this help\n"
        "Endpoints: POST /v1/completions, /v1/chat/completions, /v1/diffusion;\n"
        "GET /v1/models, /health, and the live page at /. See doc/server.md.\n",
        difflm_default_model());
}

/* in the order of DIFFLM_PRECISION_* and DIFFLM_PACK_* */
static const char *const precision_names[] = {"exact", "bf16", NULL};
static const char *const pack_names[] = {"auto", "off", "on", NULL};

/* *out = the index of s in names; else a message naming them ("a, b or c") and -1 */
static int parse_name(const char *opt, const char *s, const char *const *names, int *out) {
    int n = 0;
    for (; names[n]; n++)
        if (!strcmp(s, names[n])) {
            *out = n;
            return 0;
        }
    fprintf(stderr, "difflm-server: %s wants ", opt);
    for (int i = 0; i < n; i++)
        fprintf(stderr, "%s%s", names[i], i + 2 < n ? ", " : i + 1 < n ? " or " : "");
    fprintf(stderr, ", not '%s'\n", s);
    return -1;
}

/* A whole decimal integer in [lo, hi], or -1 with a message naming the option. */
static int parse_long(const char *opt, const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno == ERANGE || v < lo || v > hi) {
        fprintf(stderr, "difflm-server: %s wants an integer in %ld .. %ld, not '%s'\n", opt, lo,
                hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

enum { O_ALIAS = 256, O_HOST, O_PORT, O_QUEUE, O_KEY, O_CANVAS, O_MAXGEN, O_GEN, O_BODY,
       O_TIMEOUT, O_VERSION, O_PRECISION, O_PACK };

int config_parse(server_config *c, int argc, char **argv) {
    memset(c, 0, sizeof *c);
    c->model_path = difflm_default_model();
    c->host = "127.0.0.1";
    c->port = 8080;
    c->contexts = 1;
    c->queue = 16;
    c->api_key = getenv("DIFFLM_API_KEY");
    if (c->api_key && !*c->api_key)
        c->api_key = NULL;
    c->max_gen_length = 1024;
    c->default_gen_length = 128;
    c->max_body = 1 << 20;
    c->timeout = 60;

    static const struct option longs[] = {
        {"model", required_argument, NULL, 'm'},
        {"alias", required_argument, NULL, O_ALIAS},
        {"host", required_argument, NULL, O_HOST},
        {"port", required_argument, NULL, O_PORT},
        {"contexts", required_argument, NULL, 'c'},
        {"threads", required_argument, NULL, 't'},
        {"queue", required_argument, NULL, O_QUEUE},
        {"api-key", required_argument, NULL, O_KEY},
        {"max-canvas", required_argument, NULL, O_CANVAS},
        {"precision", required_argument, NULL, O_PRECISION},
        {"pack-weights", required_argument, NULL, O_PACK},
        {"max-gen-length", required_argument, NULL, O_MAXGEN},
        {"gen-length", required_argument, NULL, O_GEN},
        {"max-body", required_argument, NULL, O_BODY},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"verbose", no_argument, NULL, 'v'},
        {"version", no_argument, NULL, O_VERSION},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    optind = 1;
    int o;
    long v;
    while ((o = getopt_long(argc, argv, ":m:c:t:vh", longs, NULL)) != -1) {
        const char *name = optind > 1 ? argv[optind - 1] : "";
        switch (o) {
        case 'm': c->model_path = optarg; break;
        case O_ALIAS:
            if (!*optarg) {
                fprintf(stderr, "difflm-server: --alias wants a non-empty name\n");
                return -1;
            }
            c->model_id = optarg;
            break;
        case O_HOST: c->host = optarg; break;
        case O_PORT:
            if (parse_long("--port", optarg, 0, 65535, &v)) return -1;
            c->port = (int)v;
            break;
        case 'c':
            if (parse_long("--contexts", optarg, 1, 256, &v)) return -1;
            c->contexts = (int)v;
            break;
        case 't':
            if (parse_long("--threads", optarg, 0, 4096, &v)) return -1;
            c->threads = (int)v;
            break;
        case O_QUEUE:
            if (parse_long("--queue", optarg, 0, 4096, &v)) return -1;
            c->queue = (int)v;
            break;
        case O_KEY:
            if (!*optarg) {
                fprintf(stderr, "difflm-server: --api-key wants a non-empty key\n");
                return -1;
            }
            c->api_key = optarg;
            break;
        case O_CANVAS:
            if (parse_long("--max-canvas", optarg, 1, INT32_MAX, &v)) return -1;
            c->max_canvas = (int)v;
            break;
        case O_MAXGEN:
            if (parse_long("--max-gen-length", optarg, 1, INT32_MAX, &v)) return -1;
            c->max_gen_length = (int)v;
            break;
        case O_GEN:
            if (parse_long("--gen-length", optarg, 1, INT32_MAX, &v)) return -1;
            c->default_gen_length = (int)v;
            break;
        case O_BODY:
            if (parse_long("--max-body", optarg, 64, 1L << 30, &v)) return -1;
            c->max_body = (size_t)v;
            break;
        case O_PRECISION:
            if (parse_name("--precision", optarg, precision_names, &c->precision)) return -1;
            break;
        case O_PACK:
            if (parse_name("--pack-weights", optarg, pack_names, &c->pack_weights)) return -1;
            break;
        case O_TIMEOUT:
            if (parse_long("--timeout", optarg, 1, 86400, &v)) return -1;
            c->timeout = (int)v;
            break;
        case 'v': c->verbose = 1; break;
        case O_VERSION:
            printf("difflm-server %s (library %s, ABI %u)\n", DIFFLM_VERSION_STRING,
                   difflm_version(), difflm_abi_version());
            return 1;
        case 'h': config_usage(stdout); return 1;
        case ':':
            fprintf(stderr, "difflm-server: %s wants a value\n", name);
            return -1;
        default:
            fprintf(stderr, "difflm-server: unknown option '%s' (--help lists them)\n", name);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "difflm-server: unexpected argument '%s' (--help lists the options)\n",
                argv[optind]);
        return -1;
    }
    if (c->default_gen_length > c->max_gen_length)
        c->default_gen_length = c->max_gen_length;
    return 0;
}
