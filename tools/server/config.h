/* config.h - difflm-server's command line: where to listen, the pool, the limits. */
#ifndef SERVER_CONFIG_H
#define SERVER_CONFIG_H

#include <stddef.h>
#include <stdio.h>

typedef struct server_config {
    const char *model_path;   /* -m; default: the project's model (default_model.h) */
    const char *model_id;     /* --alias; default: the file name without ".gguf" */
    const char *host;         /* --host, default 127.0.0.1 */
    int port;                 /* --port, default 8080; 0 = any free port */
    int contexts;             /* --contexts: generations that run at once */
    int threads;              /* --threads per context; 0 = cores / contexts */
    int queue;                /* --queue: requests that may wait for a context */
    const char *api_key;      /* --api-key (or $DIFFLM_API_KEY): Bearer key for /v1/ */
    int max_canvas;           /* --max-canvas: prompt + generation; 0 = the library's */
    int precision;            /* --precision exact|bf16: DIFFLM_PRECISION_* per context */
    int pack_weights;         /* --pack-weights auto|off|on: DIFFLM_PACK_* */
    int max_gen_length;       /* --max-gen-length: largest max_tokens accepted */
    size_t max_body;          /* --max-body: bytes of request body */
    int default_gen_length;   /* --gen-length: max_tokens when a request names none */
    int timeout;              /* --timeout: seconds an idle connection is kept */
    int verbose;              /* -v: the library's and libmicrohttpd's messages */
} server_config;

/* Parses argv into *c. Returns 0 to run, 1 when it printed --help or --version (exit 0),
 * or -1 after printing what is wrong on stderr (exit 2). */
int config_parse(server_config *c, int argc, char **argv);

void config_usage(FILE *f);

#endif
