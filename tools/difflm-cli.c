/* difflm - command-line generation with llama.cpp-like flags.
 *
 * On a terminal it shows the canvas filling in, the prompt first and masked positions
 * dimmed, with a status line (tools/cli/live.c); otherwise it prints the generated text.
 * Ctrl-C cancels the running step and prints what was decoded so far (exit status 130).
 * --prompt-ids / --print-ids let test harnesses drive the library with raw token ids.
 * Uses only the public API. The options are in tools/cli/args.c, the prompt's sources
 * in tools/cli/prompt.c, the text layout in tools/cli/text.c. */
#include <langinfo.h>
#include <locale.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "difflm.h"
#include "live.h"
#include "prompt.h"
#include "shade.h"
#include "text.h"

/* ---------------------------------------------------------------- Ctrl-C */

/* The handler's view of the program: lock-free atomics, which a handler may read. */
static _Atomic(difflm_ctx *) g_ctx;
static volatile sig_atomic_t g_interrupted;
static volatile sig_atomic_t g_cursor_hidden;

/* The first Ctrl-C cancels the running step: difflm_cancel is the one call that is safe
 * from anywhere, and the main loop sees g_interrupted between steps (a cancel before
 * difflm_generate_begin would be cleared by it). A second Ctrl-C ends the program at
 * once, as if there were no handler. */
static void on_sigint(int sig) {
    if (g_interrupted) {
        if (g_cursor_hidden) {
            ssize_t w = write(STDOUT_FILENO, CLI_SHOW_CURSOR, sizeof CLI_SHOW_CURSOR - 1);
            (void)w;
        }
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    g_interrupted = 1;
    difflm_ctx *ctx = atomic_load(&g_ctx);
    if (ctx)
        difflm_cancel(ctx);
}

static void block_sigint(int block) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    pthread_sigmask(block ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL);
}

static void install_sigint(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
}

/* ---------------------------------------------------------------- generation */

typedef struct run {
    const cli_args *a;
    difflm_ctx *ctx;
    difflm_model_info mi;
    const char *prompt_text;  /* what the view shows as the prompt */
    size_t prompt_len;
    int steps_done;
    int canvas_mode;          /* --infill / --canvas-ids: the canvas is laid out whole */
    size_t n_gen;             /* the positions to generate */
    int32_t *conf_step;       /* difflm_confidences' arrays, [canvas length] */
    float *conf_prob, *conf_score;
    difflm_token *conf_token;
    size_t conf_n;
    cli_layout layout;
    cli_live live;
} run;

/* The prompt and the generated part of the canvas, as the view lays them out. */
/* The confidences of the current state into r's arrays; 0 or -1. */
static int fetch_confidences(run *r, size_t n) {
    if (n > r->conf_n) {
        free(r->conf_step), free(r->conf_prob), free(r->conf_score), free(r->conf_token);
        r->conf_step = malloc(n * sizeof *r->conf_step);
        r->conf_prob = malloc(n * sizeof *r->conf_prob);
        r->conf_score = malloc(n * sizeof *r->conf_score);
        r->conf_token = malloc(n * sizeof *r->conf_token);
        r->conf_n = r->conf_step && r->conf_prob && r->conf_score && r->conf_token ? n : 0;
    }
    size_t got = 0;
    return r->conf_n >= n && difflm_confidences(r->ctx, r->conf_token, r->conf_step, r->conf_prob,
                                                r->conf_score, r->conf_n, &got) == DIFFLM_OK
               ? 0 : -1;
}

/* The prompt and the generated part of the canvas (or the whole canvas of --infill),
 * as the view lays them out, committed tokens shaded by their probability. */
static void layout_canvas(run *r, const difflm_token *canvas, size_t n, size_t prompt_len) {
    int shaded = fetch_confidences(r, n) == 0;
    const int32_t *step = shaded ? r->conf_step : NULL;
    const float *prob = shaded ? r->conf_prob : NULL;
    cli_layout_clear(&r->layout);
    if (r->canvas_mode) {
        cli_layout_shaded(&r->layout, r->ctx, &r->mi, canvas, step, prob, n, 0, 0);
        return;
    }
    cli_layout_text(&r->layout, r->prompt_text, r->prompt_len, CLI_STYLE_PROMPT);
    if (r->a->chat && r->prompt_len)
        cli_layout_text(&r->layout, "\n", 1, CLI_STYLE_PROMPT);  /* the answer is a new turn */
    cli_layout_shaded(&r->layout, r->ctx, &r->mi, canvas, step, prob, n, prompt_len, 1);
}

/* --print-confidences: "confidences STEP" and token/step/probability/score per position. */
static void print_confidences(run *r, int step, size_t n) {
    if (fetch_confidences(r, n) != 0)
        return;
    printf("confidences %d", step);
    for (size_t i = 0; i < n; i++)
        printf(" %d/%d/%.9g/%.9g", r->conf_token[i], r->conf_step[i], (double)r->conf_prob[i],
               (double)r->conf_score[i]);
    putchar('\n');
}

static void draw(run *r, const difflm_token *canvas, size_t n, size_t prompt_len, int step,
                 int total, int committed, int masked) {
    char head[64], tail[64];
    snprintf(head, sizeof head, "step %d/%d  %d masked", step, total, masked);
    snprintf(tail, sizeof tail, "+%d tokens  Ctrl-C stops", committed);
    layout_canvas(r, canvas, n, prompt_len);
    cli_live_frame(&r->live, &r->layout, head, tail);
    g_cursor_hidden = 1;
}

/* After every step: the live frame, and a stop once Ctrl-C was pressed between steps. */
static int on_step(const difflm_step_info *info, void *user) {
    run *r = user;
    r->steps_done = info->step;
    if (r->a->print_confidences)
        print_confidences(r, info->step, info->canvas_length);
    if (r->a->live)
        draw(r, info->canvas, info->canvas_length, (size_t)info->prompt_length, info->step,
             info->total_steps, info->n_committed, info->n_masked);
    return g_interrupted;
}

static int fetch_canvas(difflm_ctx *ctx, difflm_token **canvas, size_t *n) {
    *canvas = NULL;
    if (difflm_canvas(ctx, NULL, 0, n) != DIFFLM_E_BUFFER_TOO_SMALL)
        return -1;
    *canvas = malloc(*n * sizeof **canvas);
    return *canvas && difflm_canvas(ctx, *canvas, *n, n) == DIFFLM_OK ? 0 : -1;
}

static void emit_plain(const char *bytes, size_t n, int masked, void *user) {
    (void)user;
    if (masked)
        fputs(CLI_MASK_GLYPH, stdout);
    else
        fwrite(bytes, 1, n, stdout);
}

/* The final output: the ids, the view's last state with every line, or the text. */
static void print_result(run *r, const difflm_token *canvas, size_t n, size_t prompt_len) {
    if (r->a->print_ids) {
        for (size_t i = 0; i < n; i++)
            printf(i ? ",%d" : "%d", canvas[i]);
        putchar('\n');
    } else if (r->a->live) {
        layout_canvas(r, canvas, n, prompt_len);
        cli_live_end(&r->live, &r->layout);
        g_cursor_hidden = 0;
    } else if (r->canvas_mode) {
        layout_canvas(r, canvas, n, prompt_len);
        for (size_t i = 0; i < r->layout.n; i++)
            if (r->layout.g[i].cls == CLI_NEWLINE)
                putchar('\n');
            else
                fwrite(r->layout.g[i].bytes, 1, r->layout.g[i].len, stdout);
        putchar('\n');
    } else {
        cli_canvas_runs(r->ctx, &r->mi, canvas, n, prompt_len, emit_plain, NULL);
        putchar('\n');
    }
    fflush(stdout);
}

static size_t count_masked(const run *r, const difflm_token *canvas, size_t n, size_t from) {
    size_t m = 0;
    for (size_t i = from; i < n; i++)
        m += canvas[i] == r->mi.mask_id;
    return m;
}

static double seconds_since(const struct timespec *t0) {
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0->tv_nsec);
}

/* Runs the steps; returns the last status (DONE, E_CANCELLED or an error). */
static int generate(run *r, const difflm_token *prompt, size_t n_prompt) {
    difflm_gen_params g = r->a->g;
    g.step_fn = on_step;
    g.step_user = r;
    int rc;
    if (r->canvas_mode) {
        g.gen_length = (int32_t)r->n_gen;
        if (!r->a->steps_given)  /* the default: one token per step */
            g.steps = (int32_t)r->n_gen;
        rc = difflm_generate_begin_canvas(r->ctx, prompt, n_prompt, &g);
        n_prompt = 0;   /* the view lays out the canvas whole */
    } else {
        rc = difflm_generate_begin(r->ctx, prompt, n_prompt, &g);
    }
    if (rc != DIFFLM_OK)
        return rc;
    if (r->a->live) {  /* the prompt and the empty canvas while the first step runs */
        difflm_token *canvas;
        size_t n;
        if (fetch_canvas(r->ctx, &canvas, &n) == 0)
            draw(r, canvas, n, n_prompt, 0, g.steps, 0, g.gen_length);
        free(canvas);
    }
    while (rc == DIFFLM_OK)
        rc = g_interrupted ? DIFFLM_E_CANCELLED : difflm_generate_step(r->ctx);
    return rc;
}

/* The text the view shows for the prompt: the text as given (not the chat template
 * around it), or --prompt-ids detokenized. Returns malloc'd bytes. */
static char *display_prompt(difflm_ctx *ctx, const char *text, size_t len,
                            const difflm_token *ids, size_t n, size_t *out_len) {
    char *s = NULL;
    if (text) {
        s = malloc(len + 1);
        if (s)
            memcpy(s, text, len + 1);
        *out_len = s ? len : 0;
        return s;
    }
    size_t need = 0;
    if (difflm_detokenize(ctx, ids, n, 0, NULL, 0, &need) == DIFFLM_E_BUFFER_TOO_SMALL &&
        (s = malloc(need)) && difflm_detokenize(ctx, ids, n, 0, s, need, &need) == DIFFLM_OK) {
        *out_len = need;
        return s;
    }
    *out_len = 0;
    return s;
}

static void print_stats(const run *r, int rc, size_t decoded, double s) {
    fprintf(stderr, "difflm: %d steps, %.2f tokens per step, %.3f s, %.1f tokens/s%s\n",
            r->steps_done, r->steps_done ? (double)decoded / r->steps_done : 0.0, s,
            s > 0 ? (double)decoded / s : 0.0, rc == DIFFLM_E_CANCELLED ? " (interrupted)" : "");
}

static void print_interrupted(const run *r, size_t decoded) {
    int32_t gen = (int32_t)r->n_gen;
    fprintf(stderr, "difflm: interrupted after %d step%s: %zu of %d tokens decoded, %zu still "
                    "masked\n", r->steps_done, r->steps_done == 1 ? "" : "s", decoded, gen,
            (size_t)gen - decoded);
}

/* The output, the --stats line and the exit status once generation has ended with rc. */
static int report(run *r, int rc, size_t n_prompt, const struct timespec *t0) {
    double s = seconds_since(t0);
    difflm_token *canvas = NULL;
    size_t n = 0, decoded = 0;
    int have = (rc == DIFFLM_DONE || rc == DIFFLM_E_CANCELLED) && fetch_canvas(r->ctx, &canvas, &n) == 0;
    if (have) {
        decoded = r->n_gen - count_masked(r, canvas, n, r->canvas_mode ? 0 : n_prompt);
        print_result(r, canvas, n, n_prompt);
        if (r->a->stats)
            print_stats(r, rc, decoded, s);
    } else if (r->live.rows_drawn > 0) {
        cli_live_end(&r->live, &r->layout);  /* show the cursor again */
    }
    free(canvas);
    if (have && rc == DIFFLM_E_CANCELLED) {
        print_interrupted(r, decoded);
        return CLI_EXIT_INTERRUPTED;
    }
    if (have)
        return CLI_EXIT_OK;
    if (rc == DIFFLM_DONE || rc == DIFFLM_E_CANCELLED) {
        fprintf(stderr, "difflm: cannot read the canvas: %s\n", difflm_last_error(r->ctx));
        return CLI_EXIT_ERROR;
    }
    fprintf(stderr, "difflm: %s: %s\n", difflm_status_str(rc), difflm_last_error(r->ctx));
    /* parameters the library refused are a usage error, like the CLI's own checks */
    return rc == DIFFLM_E_INVALID_ARG || rc == DIFFLM_E_UNSUPPORTED ? CLI_EXIT_USAGE
                                                                     : CLI_EXIT_ERROR;
}

static int run_cli(const cli_args *a, difflm_ctx *ctx, const char *text, size_t len) {
    run r = {.a = a, .ctx = ctx, .live = {.fd = STDOUT_FILENO}};
    r.mi.struct_size = sizeof r.mi;
    difflm_model_info_get(ctx, &r.mi);
    r.layout.wcwidth_ok = !strcmp(nl_langinfo(CODESET), "UTF-8");
    difflm_token *prompt = NULL;
    size_t n_prompt = 0;
    int code = CLI_EXIT_ERROR;
    char *shown = NULL;
    if (cli_prompt_tokens(ctx, a, text, len, &prompt, &n_prompt) != 0)
        goto done;
    code = CLI_EXIT_USAGE;
    if (cli_check_model(a, &r.mi, n_prompt) != 0)
        goto done;
    r.canvas_mode = cli_canvas_mode(a);
    r.n_gen = r.canvas_mode ? count_masked(&r, prompt, n_prompt, 0) : (size_t)a->g.gen_length;
    shown = r.canvas_mode ? NULL : display_prompt(ctx, text, len, prompt, n_prompt, &r.prompt_len);
    r.prompt_text = shown ? shown : "";
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = generate(&r, prompt, n_prompt);
    code = report(&r, rc, n_prompt, &t0);
done:
    free(shown);
    free(prompt);
    free(r.conf_step), free(r.conf_prob), free(r.conf_score), free(r.conf_token);
    cli_layout_free(&r.layout);
    cli_live_free(&r.live);
    return code;
}

static void log_to_stderr(int32_t level, const char *msg, void *user) {
    (void)user;
    static const char *const names[] = {"error", "warn", "info", "debug"};
    fprintf(stderr, "difflm: %s: %s\n", names[level >= 0 && level <= 3 ? level : 3], msg);
}

int main(int argc, char **argv) {
    cli_args a;
    int prc = cli_parse(&a, argc, argv, isatty(STDOUT_FILENO));
    if (prc != CLI_RUN)
        return prc == CLI_DONE ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    char *text = NULL;
    size_t len = 0;
    if (cli_prompt_text(&a, &text, &len) != 0)
        return CLI_EXIT_ERROR;
    setlocale(LC_CTYPE, "");  /* for wcwidth(); numbers are still parsed in the C locale */

    difflm_params p;
    difflm_params_init(&p);
    p.model_path = a.model;
    p.n_threads = a.n_threads;
    p.max_canvas = a.max_canvas;
    p.precision = a.precision;
    p.pack_weights = a.pack_weights;
    p.mask_token_id = a.mask_id;
    p.log_fn = log_to_stderr;
    p.log_level = a.verbose ? DIFFLM_LOG_DEBUG : DIFFLM_LOG_WARN;
    /* The library's worker threads inherit a blocked SIGINT, so Ctrl-C always reaches
     * this thread; it is blocked again around difflm_free so the handler never sees a
     * context being freed. */
    install_sigint();
    block_sigint(1);
    int rc;
    difflm_ctx *ctx = difflm_create(&p, &rc);
    atomic_store(&g_ctx, ctx);
    block_sigint(0);
    int code = CLI_EXIT_ERROR;
    if (!ctx)
        fprintf(stderr, "difflm: cannot load '%s': %s\n", a.model, difflm_status_str(rc));
    else
        code = run_cli(&a, ctx, text, len);
    block_sigint(1);
    atomic_store(&g_ctx, NULL);
    difflm_free(ctx);
    free(text);
    return code;
}
