/* bench_decoding - the decoding speed-ups (doc/sampling.md) measured end to end.
 *
 *   bench_decoding [-m MODEL] [-p PROMPTS] [-g 128,256] [-b BLOCK] [-t THREADS]
 *                  [-c CONFIG,...] [-n MAX_PROMPTS] [-o OUTDIR] [--threshold F] [-r REPS]
 *
 * For every gen_length, configuration and prompt it runs one generation through the
 * public step API and records the forward passes (one per step), the wall time from
 * generate_begin to DONE (the best of REPS identical runs, default 1: on a shared
 * machine the best is the least disturbed), and the generated tokens. Configurations (all greedy, BLOCKS,
 * block_length BLOCK, steps = gen_length):
 *   reference   the reference schedule as published: one token per step, and the head
 *               over every canvas row (DIFFLM_GEN_ALL_LOGITS)
 *   logits      + the head only over the step's candidate rows (same tokens)
 *   threshold   logits + threshold rule (0.9)
 *   prefix      logits + prefix KV cache
 *   dual        logits + dual KV cache
 *   early       logits + early stop
 *   all-prefix  logits + threshold + prefix cache + early stop
 *   all-dual    logits + threshold + dual cache + early stop
 * Agreement is the fraction of generated positions holding the same token as the
 * reference configuration's output for the same prompt.
 *
 * Output (stdout): one `run` line per generation (tab-separated: config, gen_length,
 * prompt index, forward passes, seconds, agreement, text file), then a markdown table
 * per gen_length. With -o, the prompts and each generated text (detokenized, cut before
 * the first EOS/EoT) are written to OUTDIR for scoring: bench/decoding.sh runs this and
 * tools/difflm-score over those files and adds the ELBO columns. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench_common.h"
#include "difflm.h"

#ifndef DL_DEFAULT_MODEL_PATH
#define DL_DEFAULT_MODEL_PATH "models/difflm-default.gguf"
#endif
#ifndef DL_SOURCE_ROOT
#define DL_SOURCE_ROOT "."
#endif

#define MAX_PROMPTS 64
#define MAX_GENS 8
#define MAX_TOKENS 4096

typedef struct config {
    const char *name, *what;
    uint32_t flags;
    int32_t parallel, cache;
} config;

static const config k_configs[] = {
    {"reference", "reference schedule (1 token/step, all logits)", DIFFLM_GEN_ALL_LOGITS,
     DIFFLM_PARALLEL_NONE, DIFFLM_CACHE_NONE},
    {"logits", "+ logits only for candidate rows", 0, DIFFLM_PARALLEL_NONE, DIFFLM_CACHE_NONE},
    {"threshold", "+ threshold", 0, DIFFLM_PARALLEL_THRESHOLD, DIFFLM_CACHE_NONE},
    {"prefix", "+ prefix cache", 0, DIFFLM_PARALLEL_NONE, DIFFLM_CACHE_PREFIX},
    {"dual", "+ dual cache", 0, DIFFLM_PARALLEL_NONE, DIFFLM_CACHE_DUAL},
    {"early", "+ early stop", DIFFLM_GEN_EARLY_STOP, DIFFLM_PARALLEL_NONE, DIFFLM_CACHE_NONE},
    {"all-prefix", "threshold + prefix cache + early stop", DIFFLM_GEN_EARLY_STOP,
     DIFFLM_PARALLEL_THRESHOLD, DIFFLM_CACHE_PREFIX},
    {"all-dual", "threshold + dual cache + early stop", DIFFLM_GEN_EARLY_STOP,
     DIFFLM_PARALLEL_THRESHOLD, DIFFLM_CACHE_DUAL},
};
#define N_CONFIGS ((int)(sizeof k_configs / sizeof k_configs[0]))

typedef struct opts {
    const char *model, *prompts, *outdir;
    int32_t gens[MAX_GENS], n_gens;
    int32_t block, threads, max_prompts, reps;
    float threshold;
    int use[N_CONFIGS];
} opts;

static void usage(FILE *f) {
    fprintf(f,
            "usage: bench_decoding [-m MODEL] [-p PROMPTS] [-g 128,256] [-b BLOCK] [-t THREADS]\n"
            "                      [-c CONFIG,...] [-n MAX_PROMPTS] [-o OUTDIR] [--threshold F]\n"
            "                      [-r REPS]\n"
            "  defaults: models/difflm-default.gguf (the project's trained model);\n"
            "  bench/prompts.txt; gen 128,256; block 32; all cores; every config; threshold 0.9\n"
            "  configs:");
    for (int i = 0; i < N_CONFIGS; i++)
        fprintf(f, " %s", k_configs[i].name);
    fprintf(f, "\n");
}

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

static int parse_opts(int argc, char **argv, opts *o) {
    static char trained[1024], prompts[1024];
    snprintf(trained, sizeof trained, "%s/models/difflm-default.gguf", DL_SOURCE_ROOT);
    snprintf(prompts, sizeof prompts, "%s/bench/prompts.txt", DL_SOURCE_ROOT);
    memset(o, 0, sizeof *o);
    o->model = file_exists(trained) ? trained : DL_DEFAULT_MODEL_PATH;
    o->prompts = prompts;
    o->gens[0] = 128;
    o->gens[1] = 256;
    o->n_gens = 2;
    o->block = 32;
    o->max_prompts = MAX_PROMPTS;
    o->threshold = 0.9f;
    o->reps = 1;
    for (int i = 0; i < N_CONFIGS; i++)
        o->use[i] = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        }
        if (!v) {
            fprintf(stderr, "bench_decoding: %s needs a value\n", a);
            return -1;
        }
        i++;
        if (!strcmp(a, "-m")) {
            o->model = v;
        } else if (!strcmp(a, "-p")) {
            o->prompts = v;
        } else if (!strcmp(a, "-o")) {
            o->outdir = v;
        } else if (!strcmp(a, "-b")) {
            o->block = atoi(v);
        } else if (!strcmp(a, "-t")) {
            o->threads = atoi(v);
        } else if (!strcmp(a, "-r")) {
            o->reps = atoi(v);
        } else if (!strcmp(a, "-n")) {
            o->max_prompts = atoi(v);
        } else if (!strcmp(a, "--threshold")) {
            o->threshold = strtof(v, NULL);
        } else if (!strcmp(a, "-g")) {
            o->n_gens = 0;
            for (const char *p = v; *p && o->n_gens < MAX_GENS;) {
                o->gens[o->n_gens++] = (int32_t)strtol(p, (char **)&p, 10);
                p += *p == ',';
            }
        } else if (!strcmp(a, "-c")) {
            for (int k = 0; k < N_CONFIGS; k++)
                o->use[k] = 0;
            char buf[256];
            snprintf(buf, sizeof buf, "%s", v);
            for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
                int found = 0;
                for (int k = 0; k < N_CONFIGS; k++)
                    if (!strcmp(tok, k_configs[k].name))
                        o->use[k] = found = 1;
                if (!found) {
                    fprintf(stderr, "bench_decoding: unknown config '%s'\n", tok);
                    return -1;
                }
            }
            o->use[0] = 1;   // the reference is what agreement and speed-up compare with
        } else {
            fprintf(stderr, "bench_decoding: unknown option '%s'\n", a);
            return -1;
        }
    }
    for (int g = 0; g < o->n_gens; g++)
        if (o->gens[g] < 1 || o->gens[g] > MAX_TOKENS / 2) {
            fprintf(stderr, "bench_decoding: bad gen_length %d\n", o->gens[g]);
            return -1;
        }
    if (o->block < 1 || o->reps < 1 || o->max_prompts < 1 || o->max_prompts > MAX_PROMPTS ||
        !(o->threshold > 0.0f && o->threshold <= 1.0f)) {
        fprintf(stderr, "bench_decoding: bad -b, -r, -n or --threshold\n");
        return -1;
    }
    return 0;
}

/* Turns backslash-n into a newline and two backslashes into one, in place. */
static void unescape(char *s) {
    char *o = s;
    for (; *s; s++) {
        if (s[0] == '\\' && (s[1] == 'n' || s[1] == '\\'))
            *o++ = *++s == 'n' ? '\n' : '\\';
        else
            *o++ = *s;
    }
    *o = '\0';
}

/* Reads non-empty lines not starting with '#', with unescape()'s escapes (a prompt may
 * hold newlines: bench/prompts-pairs.txt). Returns the count (<= max). */
static int read_prompts(const char *path, char **out, int max) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "bench_decoding: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[4096];
    int n = 0;
    while (n < max && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || line[0] == '#')
            continue;
        unescape(line);
        out[n] = strdup(line);
        if (!out[n])
            break;
        n++;
    }
    fclose(f);
    return n;
}

static int write_file(const char *dir, const char *name, const char *data, size_t n) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) {
        fprintf(stderr, "bench_decoding: cannot write %s\n", path);
        if (f)
            fclose(f);
        return -1;
    }
    return fclose(f);
}

/* The generated text, cut before the first EOS / EoT, control tokens skipped. */
static int text_of(difflm_ctx *ctx, const difflm_model_info *mi, const difflm_token *gen,
                   size_t n, char *out, size_t cap, size_t *n_out) {
    size_t end = 0;
    while (end < n && gen[end] != mi->eos_id && gen[end] != mi->eot_id)
        end++;
    return difflm_detokenize(ctx, gen, end, 0, out, cap, n_out);
}

typedef struct result {
    int32_t steps;
    double seconds, agree;
} result;

int main(int argc, char **argv) {
    opts o;
    if (parse_opts(argc, argv, &o) != 0) {
        usage(stderr);
        return 2;
    }
    static char *prompt_text[MAX_PROMPTS];
    int n_prompts = read_prompts(o.prompts, prompt_text, o.max_prompts);
    if (n_prompts <= 0) {
        fprintf(stderr, "bench_decoding: no prompts in %s\n", o.prompts);
        return 1;
    }
    if (o.outdir && mkdir(o.outdir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "bench_decoding: %s: %s\n", o.outdir, strerror(errno));
        return 1;
    }
    int32_t max_gen = 0;
    for (int g = 0; g < o.n_gens; g++)
        max_gen = o.gens[g] > max_gen ? o.gens[g] : max_gen;

    difflm_params p;
    difflm_params_init(&p);
    p.model_path = o.model;
    p.n_threads = o.threads;
    p.max_canvas = MAX_TOKENS;
    int st = 0;
    difflm_ctx *ctx = difflm_create(&p, &st);
    if (!ctx) {
        fprintf(stderr, "bench_decoding: cannot load %s: %s\n", o.model, difflm_status_str(st));
        return 1;
    }
    difflm_model_info mi = {.struct_size = sizeof mi};
    difflm_model_info_get(ctx, &mi);

    static difflm_token prompt[MAX_PROMPTS][MAX_TOKENS / 2];
    static size_t n_prompt[MAX_PROMPTS];
    for (int i = 0; i < n_prompts; i++) {
        uint32_t fl = DIFFLM_TOKENIZE_PARSE_SPECIAL | (mi.add_bos ? DIFFLM_TOKENIZE_ADD_BOS : 0);
        if (difflm_tokenize(ctx, prompt_text[i], strlen(prompt_text[i]), fl, prompt[i],
                            MAX_TOKENS / 2, &n_prompt[i]) != DIFFLM_OK ||
            n_prompt[i] + (size_t)max_gen > MAX_TOKENS) {
            fprintf(stderr, "bench_decoding: prompt %d does not fit\n", i);
            return 1;
        }
        if (o.outdir) {
            char name[64];
            snprintf(name, sizeof name, "prompt-%d.txt", i);
            if (write_file(o.outdir, name, prompt_text[i], strlen(prompt_text[i])) != 0)
                return 1;
        }
    }
    fprintf(stderr, "bench_decoding: %s, %d prompts, %d threads requested, block %d\n", o.model,
            n_prompts, o.threads, o.block);
    for (int i = 0; i < n_prompts; i++)
        if ((int64_t)n_prompt[i] + max_gen > mi.n_ctx_train)
            fprintf(stderr, "bench_decoding: note: prompt %d + gen_length %d = %lld tokens, past "
                    "the model's context length %d\n", i, max_gen,
                    (long long)n_prompt[i] + max_gen, mi.n_ctx_train);

    // One untimed generation first: page in the weights, start the threads.
    difflm_gen_params warm;
    difflm_gen_params_init(&warm);
    warm.gen_length = warm.steps = warm.block_length = o.block;
    warm.schedule = DIFFLM_SCHEDULE_BLOCKS;
    if (difflm_generate_begin(ctx, prompt[0], n_prompt[0], &warm) == DIFFLM_OK)
        while (difflm_generate_step(ctx) == DIFFLM_OK)
            ;

    static difflm_token canvas[MAX_TOKENS], ref_gen[MAX_PROMPTS][MAX_TOKENS / 2];
    static char text[MAX_TOKENS * 16];
    static result res[N_CONFIGS][MAX_PROMPTS];
    printf("#run\tconfig\tgen_length\tprompt\tforward_passes\tseconds\tagreement\ttext_file\n");
    for (int gi = 0; gi < o.n_gens; gi++) {
        const int32_t G = o.gens[gi];
        for (int k = 0; k < N_CONFIGS; k++) {
            if (!o.use[k])
                continue;
            const config *cf = &k_configs[k];
            for (int i = 0; i < n_prompts; i++) {
                difflm_gen_params g;
                difflm_gen_params_init(&g);
                g.gen_length = G;
                g.steps = G;
                g.block_length = o.block;
                g.schedule = DIFFLM_SCHEDULE_BLOCKS;
                g.flags = cf->flags;
                g.parallel = cf->parallel;
                g.threshold = o.threshold;
                g.cache = cf->cache;
                double secs = 1e30;
                int rc = DIFFLM_OK;
                int32_t steps = 0;
                for (int r = 0; r < o.reps && rc >= 0; r++) {
                    double t0 = bench_now();
                    rc = difflm_generate_begin(ctx, prompt[i], n_prompt[i], &g);
                    steps = 0;
                    while (rc == DIFFLM_OK) {
                        rc = difflm_generate_step(ctx);
                        steps += rc == DIFFLM_OK || rc == DIFFLM_DONE;
                    }
                    double t = bench_now() - t0;
                    secs = t < secs ? t : secs;
                }
                size_t n = 0;
                if (rc != DIFFLM_DONE ||
                    difflm_canvas(ctx, canvas, MAX_TOKENS, &n) != DIFFLM_OK) {
                    fprintf(stderr, "bench_decoding: %s prompt %d: %s: %s\n", cf->name, i,
                            difflm_status_str(rc), difflm_last_error(ctx));
                    return 1;
                }
                const difflm_token *gen = canvas + n_prompt[i];
                if (k == 0)
                    memcpy(ref_gen[i], gen, (size_t)G * sizeof *gen);
                int32_t same = 0;
                for (int32_t j = 0; j < G; j++)
                    same += gen[j] == ref_gen[i][j];
                res[k][i] = (result){steps, secs, (double)same / G};
                char name[96] = "-";
                if (o.outdir) {
                    size_t tn = 0;
                    if (text_of(ctx, &mi, gen, (size_t)G, text, sizeof text, &tn) != DIFFLM_OK)
                        tn = 0;
                    snprintf(name, sizeof name, "gen%d-%s-%d.txt", G, cf->name, i);
                    if (write_file(o.outdir, name, text, tn) != 0)
                        return 1;
                }
                printf("run\t%s\t%d\t%d\t%d\t%.4f\t%.4f\t%s\n", cf->name, G, i, steps, secs,
                       res[k][i].agree, name);
                fflush(stdout);
            }
        }
        double ref_s = 0;
        for (int i = 0; i < n_prompts; i++)
            ref_s += res[0][i].seconds;
        printf("\ngen_length %d, block %d, %d prompts (totals over the prompts):\n\n", G, o.block,
               n_prompts);
        printf("| config | what | forward passes | wall s | tokens/s | speed-up | agreement |\n");
        printf("|---|---|---:|---:|---:|---:|---:|\n");
        for (int k = 0; k < N_CONFIGS; k++) {
            if (!o.use[k])
                continue;
            double s = 0, agree = 0;
            long steps = 0;
            for (int i = 0; i < n_prompts; i++) {
                s += res[k][i].seconds;
                agree += res[k][i].agree;
                steps += res[k][i].steps;
            }
            printf("| %s | %s | %ld | %.2f | %.1f | %.2fx | %.3f |\n", k_configs[k].name,
                   k_configs[k].what, steps, s, (double)G * n_prompts / s, ref_s / s,
                   agree / n_prompts);
        }
        printf("\n");
    }
    difflm_free(ctx);
    for (int i = 0; i < n_prompts; i++)
        free(prompt_text[i]);
    return 0;
}
