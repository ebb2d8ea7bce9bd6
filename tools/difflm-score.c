/* difflm-score - how likely is a text under a model? LLaDA's Monte Carlo ELBO estimate.
 *
 *     difflm-score -m MODEL.gguf (--text TEXT | --file F) [--prompt TEXT | --prompt-file F]
 *                  [--docs] [--mc N] [--batch B] [--seed S] [--canvas C] [--max-windows N]
 *                  [-t THREADS] [-v]
 *
 * A host of the public API: the estimate is the library's difflm_score, over the same
 * forward pass that generates, so a number measured here is a number about that code.
 * The text is cut into consecutive windows that fill the canvas after the prompt (BOS
 * alone when no prompt is given and the model adds BOS); each window's -ELBO is
 * estimated on its own and the windows' estimates (and variances) are summed. Output on stdout, one key=value per line; -v reports
 * progress on stderr. doc/default-model.md ("Evaluation method") describes the method. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "difflm.h"
#include "score/args.h"
#include "score/corpus.h"
#include "score/corpus_api.h"

#define TOOL "difflm-score"

/* Window j draws from seed + j * this odd constant, so a window's estimate does not
 * depend on which other windows are scored (--max-windows). */
#define WINDOW_SEED_STRIDE 0x9E3779B97F4A7C15ull

typedef struct opts {
    const char *model, *prompt, *prompt_file, *text, *file;
    int split_docs, verbose;
    int64_t mc, batch, canvas, max_windows, threads;
    uint64_t seed;
} opts;

static void usage(FILE *f) {
    fprintf(f,
            "usage: " TOOL " -m MODEL (--text TEXT | --file F) [options]\n"
            "  MODEL: a GGUF file or a Hugging Face model folder\n"
            "  estimates -log p(text | prompt) with LLaDA's Monte Carlo ELBO (an upper bound)\n"
            "  --prompt TEXT | --prompt-file F   conditioning text, never masked (default: BOS\n"
            "                      alone when the model adds BOS)\n"
            "  --docs              blank lines separate documents; each ends with EOS\n"
            "  --mc N              forward passes per window (default 128)\n"
            "  --batch B           stratification width; N must be a multiple (default 16)\n"
            "  --seed S            random seed (default 0)\n"
            "  --canvas C          tokens per forward pass, prompt included (default: the\n"
            "                      model's context length)\n"
            "  --max-windows N     score N windows spread evenly over the text (default all)\n"
            "  -t THREADS          threads (default: all CPUs)\n"
            "  -v                  progress on stderr\n"
            "output keys: windows, windows_total, canvas, mc, batch, seed, prompt_tokens,\n"
            "  borrowed_context (1: shifted logits, no prompt: each window borrows the token\n"
            "  before it), answer_tokens, answer_bytes, nll_nats (-ELBO, an upper bound on the\n"
            "  NLL), nats_per_token, bits_per_byte, se_nats, se_bits_per_byte (standard error)\n");
}

/* Returns 0 to run, or the exit status (0 after --help). *run is set when parsing passed. */
static int parse_args(int argc, char **argv, opts *o, int *run) {
    *run = 0;
    memset(o, 0, sizeof *o);
    o->mc = 128;
    o->batch = 16;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--docs")) {
            o->split_docs = 1;
            continue;
        }
        if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            o->verbose = 1;
            continue;
        }
        static const char *const with_value[] = { "-m", "--model", "--prompt", "--prompt-file",
            "--text", "--file", "--mc", "--batch", "--seed", "--canvas", "--max-windows", "-t",
            "--threads" };
        const char *v;
        if (score_option_value(TOOL, argc, argv, &i, with_value,
                               sizeof with_value / sizeof with_value[0], usage, &v))
            return 2;
        int rc = 0;
        if (!strcmp(a, "-m") || !strcmp(a, "--model"))
            o->model = v;
        else if (!strcmp(a, "--prompt"))
            o->prompt = v;
        else if (!strcmp(a, "--prompt-file"))
            o->prompt_file = v;
        else if (!strcmp(a, "--text"))
            o->text = v;
        else if (!strcmp(a, "--file"))
            o->file = v;
        else if (!strcmp(a, "--mc"))
            rc = score_parse_i64(TOOL, a, v, 1, 1 << 24, &o->mc);
        else if (!strcmp(a, "--batch"))
            rc = score_parse_i64(TOOL, a, v, 1, 1 << 16, &o->batch);
        else if (!strcmp(a, "--seed"))
            rc = score_parse_u64(TOOL, a, v, &o->seed);
        else if (!strcmp(a, "--canvas"))
            rc = score_parse_i64(TOOL, a, v, 1, 1 << 20, &o->canvas);
        else if (!strcmp(a, "--max-windows"))
            rc = score_parse_i64(TOOL, a, v, 1, INT64_MAX, &o->max_windows);
        else
            rc = score_parse_i64(TOOL, a, v, 1, 4096, &o->threads);
        if (rc)
            return 2;
    }
    if (!o->model || (!o->text == !o->file)) {
        fprintf(stderr, TOOL ": -m and exactly one of --text or --file are required\n");
        usage(stderr);
        return 2;
    }
    if (o->prompt && o->prompt_file) {
        fprintf(stderr, TOOL ": give at most one of --prompt and --prompt-file\n");
        return 2;
    }
    if (o->mc % o->batch != 0) {
        fprintf(stderr, TOOL ": --mc %lld must be a multiple of --batch %lld\n",
                (long long)o->mc, (long long)o->batch);
        return 2;
    }
    *run = 1;
    return 0;
}

/* The last error-level message of the library, for the load failures that have no
 * context to ask (difflm_model_load, difflm_ctx_create). */
typedef struct last_log {
    char msg[512];
} last_log;

static void keep_log(int32_t level, const char *message, void *user) {
    (void)level;
    last_log *l = user;
    snprintf(l->msg, sizeof l->msg, "%s", message);
}

/* The prompt's tokens: the prompt text with BOS in front when the model adds BOS, or BOS
 * alone without a prompt. malloc'd into *ids (at least one element). */
static int build_prompt(const opts *o, difflm_ctx *ctx, int add_bos, int32_t **ids, size_t *n,
                        score_err *err) {
    char *owned = NULL;
    const char *text = o->prompt ? o->prompt : "";
    size_t len = strlen(text);
    int rc = 0;
    if (o->prompt_file && (rc = score_read_file(o->prompt_file, &owned, &len, err)) != 0)
        return rc;
    if (owned)
        text = owned;
    const uint32_t flags = add_bos ? DIFFLM_TOKENIZE_ADD_BOS : 0;
    /* At most one token per byte, plus BOS. */
    *ids = malloc((len + 2) * sizeof **ids);
    if (!*ids) {
        free(owned);
        return score_fail(err, DIFFLM_E_NOMEM, "out of memory for the prompt");
    }
    rc = difflm_tokenize(ctx, text, len, flags, *ids, len + 2, n);
    if (rc != DIFFLM_OK)
        score_fail(err, rc, "%s", difflm_last_error(ctx));
    free(owned);
    if (rc != 0) {
        free(*ids);
        *ids = NULL;
    }
    return rc;
}

typedef struct totals {
    size_t windows, tokens, bytes;
    double nll, var;
} totals;

/* Scores the chosen windows of the stream, summing estimates and variances. */
static int score_chosen_windows(const opts *o, difflm_ctx *ctx, const int32_t *prompt,
                                size_t n_prompt, const score_stream *s, const score_windows *w,
                                const uint32_t *tok_bytes, totals *tot, score_err *err) {
    const size_t borrow = w->first;
    const size_t seq_cap = n_prompt + borrow + w->body;
    int32_t *seq = malloc(seq_cap * sizeof *seq);
    if (!seq)
        return score_fail(err, DIFFLM_E_NOMEM, "out of memory for the canvas");
    memcpy(seq, prompt, n_prompt * sizeof *seq);
    difflm_score_params sp;
    difflm_score_params_init(&sp);
    sp.mc = (int32_t)o->mc;
    sp.batch = (int32_t)o->batch;
    const size_t take = score_windows_take(w, o->max_windows);
    const clock_t t0 = clock();
    int rc = 0;
    for (size_t j = 0; j < take; j++) {
        const size_t win = score_window_pick(w, j, take);
        size_t start, len;
        score_window_at(w, win, &start, &len);
        /* The borrowed context token is the stream token just before the window: it
         * joins the prompt, never masked. */
        memcpy(seq + n_prompt, s->ids + start - borrow, (borrow + len) * sizeof *seq);
        sp.seed = o->seed + WINDOW_SEED_STRIDE * (uint64_t)win;
        difflm_score_result est = { .struct_size = sizeof est };
        rc = difflm_score(ctx, seq, n_prompt + borrow, seq + n_prompt + borrow, len, &sp, &est);
        if (rc != DIFFLM_OK) {
            score_fail(err, rc, "%s", difflm_last_error(ctx));
            break;
        }
        tot->windows++;
        tot->tokens += len;
        tot->bytes += score_span_bytes(tok_bytes, s->ids, start, len);
        tot->nll += est.nll;
        tot->var += est.var;
        if (o->verbose)
            fprintf(stderr, TOOL ": window %zu (%zu/%zu): %zu tokens, nll %.4f +- %.4f nats, "
                    "%.1f s so far\n", win, j + 1, take, len, est.nll, est.se,
                    (double)(clock() - t0) / CLOCKS_PER_SEC);
    }
    free(seq);
    return rc;
}

static int run(const opts *o) {
    int rc = 1;
    score_err err = {0};
    last_log lg = {{0}};
    difflm_model *model = NULL;
    difflm_ctx *ctx = NULL;
    char *text = NULL;
    int32_t *prompt = NULL;
    uint32_t *tok_bytes = NULL;
    score_stream s = {0};
    size_t text_len = 0, n_prompt = 0;

    difflm_model_params mp;
    difflm_model_params_init(&mp);
    mp.path = o->model;
    mp.log_level = DIFFLM_LOG_ERROR;
    mp.log_fn = keep_log;
    mp.log_user = &lg;
    if (!(model = difflm_model_load(&mp, NULL))) {
        fprintf(stderr, TOOL ": %s: %s\n", o->model, lg.msg);
        goto done;
    }
    difflm_model_info info = { .struct_size = sizeof info };
    if (difflm_model_describe(model, &info) != DIFFLM_OK) {
        fprintf(stderr, TOOL ": %s: cannot describe the model\n", o->model);
        goto done;
    }
    if (info.mask_id < 0) {
        fprintf(stderr, TOOL ": %s has no tokenizer.ggml.mask_token_id\n", o->model);
        goto done;
    }
    const int64_t canvas = o->canvas > 0 ? o->canvas : info.n_ctx_train;
    difflm_ctx_params cp;
    difflm_ctx_params_init(&cp);
    cp.n_threads = (int32_t)o->threads;   /* 0: all CPUs */
    cp.max_canvas = (int32_t)canvas;
    cp.log_level = DIFFLM_LOG_ERROR;
    cp.log_fn = keep_log;
    cp.log_user = &lg;
    if (!(ctx = difflm_ctx_create(model, &cp, NULL))) {
        fprintf(stderr, TOOL ": %s: %s\n", o->model, lg.msg);
        goto done;
    }
    if (build_prompt(o, ctx, info.add_bos, &prompt, &n_prompt, &err) != 0) {
        fprintf(stderr, TOOL ": prompt: %s\n", err.msg);
        goto done;
    }
    if (o->file) {
        if (score_read_file(o->file, &text, &text_len, &err) != 0) {
            fprintf(stderr, TOOL ": %s\n", err.msg);
            goto done;
        }
    } else {
        text_len = strlen(o->text);
    }
    score_tokenizer st;
    if (score_tokenizer_from_ctx(&st, ctx, &err) != 0 ||
        score_stream_build(&s, &st, text ? text : o->text, text_len, o->split_docs, &err) != 0) {
        fprintf(stderr, TOOL ": tokenizing the text: %s\n", err.msg);
        goto done;
    }
    const int borrow = info.shift_logits && n_prompt == 0;
    if (canvas <= (int64_t)n_prompt + borrow) {
        fprintf(stderr, TOOL ": the canvas of %lld tokens leaves no room after the %zu-token "
                "prompt (set --canvas)\n", (long long)canvas, n_prompt + (size_t)borrow);
        goto done;
    }
    score_windows w;
    score_windows_plan(&w, s.n, (size_t)canvas - n_prompt - (size_t)borrow, borrow);
    if (w.count == 0) {
        fprintf(stderr, TOOL ": the text has no tokens to score\n");
        goto done;
    }
    tok_bytes = malloc((size_t)st.n_vocab * sizeof *tok_bytes);
    if (!tok_bytes) {
        fprintf(stderr, TOOL ": out of memory\n");
        goto done;
    }
    if (score_token_bytes(tok_bytes, &st, &err) != 0) {
        fprintf(stderr, TOOL ": decoding the vocabulary: %s\n", err.msg);
        goto done;
    }
    totals tot = {0};
    if (score_chosen_windows(o, ctx, prompt, n_prompt, &s, &w, tok_bytes, &tot, &err) != 0) {
        fprintf(stderr, TOOL ": %s\n", err.msg);
        goto done;
    }
    const double ln2 = log(2.0), se = sqrt(tot.var);
    printf("windows=%zu\nwindows_total=%zu\ncanvas=%lld\nmc=%lld\nbatch=%lld\nseed=%llu\n"
           "prompt_tokens=%zu\nborrowed_context=%d\nanswer_tokens=%zu\nanswer_bytes=%zu\n"
           "nll_nats=%.6f\n"
           "nats_per_token=%.6f\nbits_per_byte=%.6f\nse_nats=%.6f\nse_bits_per_byte=%.6f\n",
           tot.windows, w.count, (long long)canvas, (long long)o->mc, (long long)o->batch,
           (unsigned long long)o->seed, n_prompt, borrow, tot.tokens, tot.bytes, tot.nll,
           tot.nll / (double)tot.tokens, tot.nll / ln2 / (double)tot.bytes, se,
           se / ln2 / (double)tot.bytes);
    rc = fflush(stdout) == 0 ? 0 : 1;

done:
    free(tok_bytes);
    score_stream_free(&s);
    free(prompt);
    free(text);
    difflm_free(ctx);
    difflm_model_free(model);
    return rc;
}

int main(int argc, char **argv) {
    opts o;
    int go;
    int rc = parse_args(argc, argv, &o, &go);
    return go ? run(&o) : rc;
}
