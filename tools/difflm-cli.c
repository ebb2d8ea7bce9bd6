/* difflm - command-line generation with llama.cpp-like flags.
 *
 * On a terminal it shows the canvas filling in (masked positions dimmed) with a progress
 * line; otherwise it prints the generated text. --prompt-ids / --print-ids let test
 * harnesses drive the library with raw token ids. Uses only the public API. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "difflm.h"

#include "default_model.h"

typedef struct cli {
    const char *model, *prompt, *prompt_ids;
    int chat, print_ids, live, verbose, stats;
    int32_t n_threads, max_canvas, mask_id;
    difflm_gen_params g;
} cli;

static void usage(FILE *f) {
    fprintf(f,
        "usage: difflm [options]\n"
        "  -m, --model PATH        GGUF model (default: $DIFFLM_MODEL, else %s)\n"
        "  -p, --prompt TEXT       prompt text\n"
        "      --prompt-ids LIST   prompt as comma-separated token ids (no BOS, no template)\n"
        "      --chat              wrap the prompt in the model's chat template\n"
        "  -n, --gen-length N      tokens to generate (default 128)\n"
        "      --steps N           denoising steps (default 128)\n"
        "      --block-length N    semi-autoregressive block length (default 32; 0 = whole)\n"
        "      --schedule NAME     auto | blocks (LLaDA) | timesteps (Dream)\n"
        "      --remasking NAME    auto | low_confidence | random | origin | maskgit_plus |\n"
        "                          topk_margin | entropy\n"
        "      --temp F            temperature (default 0 = greedy)\n"
        "      --top-k N           keep the N most likely tokens (0 = off)\n"
        "      --top-p F           nucleus sampling (1 = off)\n"
        "      --cfg F             classifier-free guidance scale (0 = off)\n"
        "      --eps F             timesteps schedule: final time (default 0.001)\n"
        "      --alg-temp F        timesteps schedule: randomness of position choice\n"
        "      --logits-eos-inf    never predict end of text\n"
        "      --conf-eos-eot-inf  commit end-of-text / end-of-turn predictions last\n"
        "      --threshold F       parallel decoding: commit the most confident position and\n"
        "                          every other with confidence >= F (Fast-dLLM; e.g. 0.9)\n"
        "      --factor F          parallel decoding: commit the top n with (n+1)(1-c_n) < F\n"
        "      --cache NAME        none | prefix | dual: approximate KV cache (default none)\n"
        "      --early-stop        stop once end-of-text is committed with nothing masked\n"
        "                          before it (the MASKs after it become EOS)\n"
        "      --no-early-stop     decode every position (default)\n"
        "      --all-logits        compute logits for every canvas row (for measuring)\n"
        "      --stats             print steps, tokens per step and time on stderr\n"
        "      --seed N            random seed (default 0)\n"
        "  -t, --threads N         threads (default: all cores)\n"
        "      --max-canvas N      longest canvas the context serves\n"
        "      --mask-id N         override the model's mask token id\n"
        "      --print-ids         print the final canvas as comma-separated ids, nothing else\n"
        "      --no-live           plain output even on a terminal\n"
        "  -v, --verbose           print the library's log messages\n"
        "  -h, --help              this help\n", difflm_default_model());
}

static int parse_long(const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_float(const char *s, float *out) {
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (errno || end == s || *end)
        return -1;
    *out = v;
    return 0;
}

static int lookup(const char *s, const char *const *names, int n, int32_t *out) {
    for (int i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return 0;
        }
    return -1;
}

static const char *const schedule_names[] = {"auto", "blocks", "timesteps"};
static const char *const remask_names[] = {"auto", "low_confidence", "random", "origin",
                                           "maskgit_plus", "topk_margin", "entropy"};
static const char *const cache_names[] = {"none", "prefix", "dual"};

/* Returns 0 to run, 1 to exit successfully (help), 2 on a usage error. */
static int parse_args(cli *c, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        float f;
#define NEED_VALUE                                                  \
    do {                                                            \
        if (!v) {                                                   \
            fprintf(stderr, "difflm: %s needs a value\n", a);       \
            return 2;                                               \
        }                                                           \
        i++;                                                        \
    } while (0)
#define INT_OPT(field, lo, hi)                                                   \
    do {                                                                         \
        NEED_VALUE;                                                              \
        if (parse_long(v, lo, hi, &n)) {                                         \
            fprintf(stderr, "difflm: %s: '%s' is not an integer in [%ld, %ld]\n", a, v, \
                    (long)(lo), (long)(hi));                                     \
            return 2;                                                            \
        }                                                                        \
        field = (int32_t)n;                                                      \
    } while (0)
#define FLOAT_OPT(field)                                                   \
    do {                                                                   \
        NEED_VALUE;                                                        \
        if (parse_float(v, &f)) {                                          \
            fprintf(stderr, "difflm: %s: '%s' is not a number\n", a, v);   \
            return 2;                                                      \
        }                                                                  \
        field = f;                                                         \
    } while (0)
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 1;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            NEED_VALUE;
            c->model = v;
        } else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
            NEED_VALUE;
            c->prompt = v;
        } else if (!strcmp(a, "--prompt-ids")) {
            NEED_VALUE;
            c->prompt_ids = v;
        } else if (!strcmp(a, "--chat")) {
            c->chat = 1;
        } else if (!strcmp(a, "-n") || !strcmp(a, "--gen-length")) {
            INT_OPT(c->g.gen_length, 1, INT32_MAX);
        } else if (!strcmp(a, "--steps")) {
            INT_OPT(c->g.steps, 1, INT32_MAX);
        } else if (!strcmp(a, "--block-length")) {
            INT_OPT(c->g.block_length, 0, INT32_MAX);
        } else if (!strcmp(a, "--schedule") || !strcmp(a, "--remasking")) {
            NEED_VALUE;
            int sched = !strcmp(a, "--schedule");
            if (sched ? lookup(v, schedule_names, 3, &c->g.schedule)
                      : lookup(v, remask_names, 7, &c->g.remasking)) {
                fprintf(stderr, "difflm: %s: unknown name '%s' (see --help)\n", a, v);
                return 2;
            }
        } else if (!strcmp(a, "--temp")) {
            FLOAT_OPT(c->g.temperature);
        } else if (!strcmp(a, "--top-k")) {
            INT_OPT(c->g.top_k, 0, INT32_MAX);
        } else if (!strcmp(a, "--top-p")) {
            FLOAT_OPT(c->g.top_p);
        } else if (!strcmp(a, "--cfg")) {
            FLOAT_OPT(c->g.cfg_scale);
        } else if (!strcmp(a, "--eps")) {
            FLOAT_OPT(c->g.eps);
        } else if (!strcmp(a, "--alg-temp")) {
            FLOAT_OPT(c->g.alg_temp);
        } else if (!strcmp(a, "--logits-eos-inf")) {
            c->g.flags |= DIFFLM_GEN_LOGITS_EOS_INF;
        } else if (!strcmp(a, "--conf-eos-eot-inf")) {
            c->g.flags |= DIFFLM_GEN_CONFIDENCE_EOS_EOT_INF;
        } else if (!strcmp(a, "--threshold")) {
            FLOAT_OPT(c->g.threshold);
            c->g.parallel = DIFFLM_PARALLEL_THRESHOLD;
        } else if (!strcmp(a, "--factor")) {
            FLOAT_OPT(c->g.factor);
            c->g.parallel = DIFFLM_PARALLEL_FACTOR;
        } else if (!strcmp(a, "--cache")) {
            NEED_VALUE;
            if (lookup(v, cache_names, 3, &c->g.cache)) {
                fprintf(stderr, "difflm: --cache: unknown name '%s' (none, prefix, dual)\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--early-stop")) {
            c->g.flags |= DIFFLM_GEN_EARLY_STOP;
        } else if (!strcmp(a, "--no-early-stop")) {
            c->g.flags &= ~DIFFLM_GEN_EARLY_STOP;
        } else if (!strcmp(a, "--all-logits")) {
            c->g.flags |= DIFFLM_GEN_ALL_LOGITS;
        } else if (!strcmp(a, "--stats")) {
            c->stats = 1;
        } else if (!strcmp(a, "--seed")) {
            NEED_VALUE;
            char *end;
            errno = 0;
            unsigned long long s = strtoull(v, &end, 10);
            if (errno || end == v || *end) {
                fprintf(stderr, "difflm: --seed: '%s' is not an unsigned integer\n", v);
                return 2;
            }
            c->g.seed = s;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            INT_OPT(c->n_threads, 0, 4096);
        } else if (!strcmp(a, "--max-canvas")) {
            INT_OPT(c->max_canvas, 1, INT32_MAX);
        } else if (!strcmp(a, "--mask-id")) {
            INT_OPT(c->mask_id, 0, INT32_MAX);
        } else if (!strcmp(a, "--print-ids")) {
            c->print_ids = 1;
        } else if (!strcmp(a, "--no-live")) {
            c->live = 0;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            c->verbose = 1;
        } else {
            fprintf(stderr, "difflm: unknown option '%s' (see --help)\n", a);
            return 2;
        }
    }
    if (c->prompt && c->prompt_ids) {
        fprintf(stderr, "difflm: give either -p or --prompt-ids, not both\n");
        return 2;
    }
    return 0;
}

static void log_to_stderr(int32_t level, const char *msg, void *user) {
    (void)user;
    static const char *const names[] = {"error", "warn", "info", "debug"};
    fprintf(stderr, "difflm: %s: %s\n", names[level >= 0 && level <= 3 ? level : 3], msg);
}

/* Parses "1,2,3" into a malloc'd array. Returns NULL (with a message) on bad input. */
static difflm_token *parse_ids(const char *s, size_t *n) {
    size_t cap = 1;
    for (const char *p = s; *p; p++)
        cap += *p == ',';
    difflm_token *ids = malloc(cap * sizeof *ids);
    if (!ids)
        return NULL;
    *n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (errno || end == p || v < 0 || v > INT32_MAX || (*end && *end != ',')) {
            fprintf(stderr, "difflm: --prompt-ids: bad id list at '%s'\n", p);
            free(ids);
            return NULL;
        }
        ids[(*n)++] = (difflm_token)v;
        p = *end ? end + 1 : end;
    }
    return ids;
}

typedef struct live_view {
    difflm_ctx *ctx;
    char *buf;
    size_t cap;
} live_view;

/* Redraws the canvas: committed tokens as text, masked positions as dim blocks. */
static int draw_step(const difflm_step_info *info, void *user) {
    live_view *lv = user;
    difflm_model_info mi = {.struct_size = sizeof mi};
    difflm_model_info_get(lv->ctx, &mi);
    fputs("\033[H\033[J", stdout);
    for (size_t i = (size_t)info->prompt_length; i < info->canvas_length; i++) {
        difflm_token t = info->canvas[i];
        if (t == mi.mask_id) {
            fputs("\033[2m\xe2\x96\x91\033[0m", stdout); /* dim light shade */
            continue;
        }
        size_t n = 0;
        if (difflm_detokenize(lv->ctx, &t, 1, 0, lv->buf, lv->cap, &n) == DIFFLM_OK)
            fwrite(lv->buf, 1, n, stdout);
    }
    printf("\n\n\033[7m step %d/%d  +%d tokens  %d masked \033[0m\n", info->step,
           info->total_steps, info->n_committed, info->n_masked);
    fflush(stdout);
    return 0;
}

/* Builds the prompt ids from -p (optionally through the chat template) or --prompt-ids. */
static int prompt_tokens(difflm_ctx *ctx, const cli *c, difflm_token **ids, size_t *n) {
    if (c->prompt_ids) {
        *ids = parse_ids(c->prompt_ids, n);
        return *ids ? 0 : -1;
    }
    const char *text = c->prompt ? c->prompt : "";
    char *templated = NULL;
    difflm_model_info mi = {.struct_size = sizeof mi};
    difflm_model_info_get(ctx, &mi);
    uint32_t flags = DIFFLM_TOKENIZE_PARSE_SPECIAL;
    if (c->chat) {
        difflm_chat_message msg = {"user", text};
        size_t need = 0;
        int rc = difflm_chat_format(ctx, &msg, 1, 1, NULL, 0, &need);
        if (rc == DIFFLM_E_BUFFER_TOO_SMALL && (templated = malloc(need + 1)))
            rc = difflm_chat_format(ctx, &msg, 1, 1, templated, need + 1, &need);
        if (rc != DIFFLM_OK) {
            fprintf(stderr, "difflm: --chat: %s: %s\n", difflm_status_str(rc),
                    difflm_last_error(ctx));
            free(templated);
            return -1;
        }
        text = templated;
    } else if (mi.add_bos) {
        flags |= DIFFLM_TOKENIZE_ADD_BOS;
    }
    size_t len = strlen(text), cap = len + 2;
    *ids = malloc(cap * sizeof **ids);
    int rc = *ids ? difflm_tokenize(ctx, text, len, flags, *ids, cap, n) : DIFFLM_E_NOMEM;
    free(templated);
    if (rc != DIFFLM_OK) {
        fprintf(stderr, "difflm: tokenize: %s: %s\n", difflm_status_str(rc), difflm_last_error(ctx));
        free(*ids);
        return -1;
    }
    return 0;
}

/* Prints the generated text (up to the first EOS / end-of-turn, control tokens skipped). */
static int print_text(difflm_ctx *ctx, const difflm_token *canvas, size_t n, size_t prompt_len) {
    difflm_model_info mi = {.struct_size = sizeof mi};
    difflm_model_info_get(ctx, &mi);
    size_t end = prompt_len;
    while (end < n && canvas[end] != mi.eos_id && canvas[end] != mi.eot_id)
        end++;
    size_t need = 0;
    int rc = difflm_detokenize(ctx, canvas + prompt_len, end - prompt_len, 0, NULL, 0, &need);
    char *text = NULL;
    if (rc == DIFFLM_E_BUFFER_TOO_SMALL && (text = malloc(need)))
        rc = difflm_detokenize(ctx, canvas + prompt_len, end - prompt_len, 0, text, need, &need);
    if (rc == DIFFLM_OK) {
        fwrite(text, 1, need, stdout);
        fputc('\n', stdout);
    }
    free(text);
    return rc;
}

int main(int argc, char **argv) {
    cli c = {.model = difflm_default_model(), .live = isatty(STDOUT_FILENO), .mask_id = -1};
    difflm_gen_params_init(&c.g);
    int prc = parse_args(&c, argc, argv);
    if (prc)
        return prc == 1 ? 0 : 2;
    if (c.print_ids)
        c.live = 0;

    difflm_params p;
    difflm_params_init(&p);
    p.model_path = c.model;
    p.n_threads = c.n_threads;
    p.max_canvas = c.max_canvas;
    p.mask_token_id = c.mask_id;
    p.log_fn = log_to_stderr;
    p.log_level = c.verbose ? DIFFLM_LOG_DEBUG : DIFFLM_LOG_WARN;
    int rc;
    difflm_ctx *ctx = difflm_create(&p, &rc);
    if (!ctx) {
        fprintf(stderr, "difflm: cannot load '%s': %s\n", c.model, difflm_status_str(rc));
        return 1;
    }

    difflm_token *prompt = NULL, *canvas = NULL;
    size_t n_prompt = 0, n_canvas = 0;
    live_view lv = {ctx, NULL, 0};
    int exit_code = 1;
    if (prompt_tokens(ctx, &c, &prompt, &n_prompt) != 0)
        goto done;
    if (c.live && (lv.buf = malloc(lv.cap = 4096))) {
        c.g.step_fn = draw_step;
        c.g.step_user = &lv;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int n_steps = 0;
    rc = difflm_generate_begin(ctx, prompt, n_prompt, &c.g);
    while (rc == DIFFLM_OK) {
        rc = difflm_generate_step(ctx);
        n_steps += rc == DIFFLM_OK || rc == DIFFLM_DONE;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (c.stats) {
        double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        fprintf(stderr, "difflm: %d steps, %.2f tokens per step, %.3f s, %.1f tokens/s\n",
                n_steps, n_steps ? (double)c.g.gen_length / n_steps : 0.0, s,
                s > 0 ? c.g.gen_length / s : 0.0);
    }
    if (rc != DIFFLM_DONE) {
        fprintf(stderr, "difflm: %s: %s\n", difflm_status_str(rc), difflm_last_error(ctx));
        goto done;
    }
    difflm_canvas(ctx, NULL, 0, &n_canvas);
    canvas = malloc(n_canvas * sizeof *canvas);
    if (!canvas || difflm_canvas(ctx, canvas, n_canvas, &n_canvas) != DIFFLM_OK)
        goto done;
    if (c.print_ids) {
        for (size_t i = 0; i < n_canvas; i++)
            printf(i ? ",%d" : "%d", canvas[i]);
        putchar('\n');
    } else {
        if (c.live)
            fputs("\033[H\033[J", stdout);
        if (print_text(ctx, canvas, n_canvas, n_prompt) != DIFFLM_OK)
            goto done;
    }
    exit_code = 0;
done:
    free(lv.buf);
    free(canvas);
    free(prompt);
    difflm_free(ctx);
    return exit_code;
}
