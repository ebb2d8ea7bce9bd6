/* game_loop.c - a host that advances generation from a fixed-rate frame loop, as a game or
 * editor plugin would: at most one denoising step per frame, and none when the frame's
 * own work has used up its time budget. Every frame draws the canvas ('_' = still
 * masked). A second thread cancels after a timeout (the watchdog) or, when standard
 * input is a terminal, at the first key press: the terminal is put in non-canonical,
 * no-echo mode for that (any key counts, Enter is not needed) and restored on every way
 * out, termination signals included. Ctrl-C cancels too. The last line says what
 * cancelled it.
 *
 * usage: game_loop [MODEL.gguf] [options]   (no model: the project's default model)
 *   --prompt TEXT        prompt (default "And God said")
 *   --frames N           stop after N frames (default 600)
 *   --fps F              frame rate (default 60)
 *   --budget-ms B        time a frame may spend before it skips its step (default 8)
 *   --work-ms W          simulated game work per frame (default 1)
 *   --heavy-every K      every K-th frame does heavy work (2 x budget) and skips (default 5)
 *   --cancel-after-ms M  the watchdog cancels after M ms (default 10000)
 *   --gen N --steps S --block L   generation length, steps, block length (64, 32, 32)
 *   --expect done|cancelled|key|watchdog|interrupt
 *                        exit 1 unless generation ended that way (for tests; key,
 *                        watchdog and interrupt are cancellations by that cause)
 * Exit status: 0 on a clean exit (finished, cancelled or out of frames), 1 on errors,
 * 2 on bad usage.
 */
#define _POSIX_C_SOURCE 200809L
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "default_model.h"
#include "difflm.h"

#define MAX_CANVAS 1024
#define LINE_CAP 4096

typedef struct options {
    const char *model, *prompt, *expect;
    int frames, gen, steps, block, heavy_every;
    double fps, budget_ms, work_ms, cancel_after_ms;
} options;

/* What cancelled generation. */
enum cause { CAUSE_NONE, CAUSE_KEY, CAUSE_WATCHDOG, CAUSE_INTERRUPT };

/* Shared with the watchdog thread. */
typedef struct watchdog {
    difflm_ctx *ctx;
    double cancel_after_ms;
    int keys;              /* standard input is a terminal in non-canonical mode */
    atomic_int quit;       /* set by the frame loop when it is done */
    atomic_int key;        /* the first byte of the key that cancelled */
} watchdog;

/* Shared with the signal handlers: lock-free atomics and what tcsetattr restores. */
static atomic_int g_cause;
static _Atomic(difflm_ctx *) g_ctx;
static struct termios g_saved_tty;
static volatile sig_atomic_t g_tty_changed;

/* Records the first cause only: a key pressed after the watchdog fired did not cancel. */
static void set_cause(int cause) {
    int none = CAUSE_NONE;
    atomic_compare_exchange_strong(&g_cause, &none, cause);
}

static void restore_tty(void) {
    if (g_tty_changed) {
        tcflush(STDIN_FILENO, TCIFLUSH);  /* the rest of a key's bytes is not the shell's */
        tcsetattr(STDIN_FILENO, TCSANOW, &g_saved_tty);
        g_tty_changed = 0;
    }
}

/* Any key, without Enter and without echo: non-canonical mode, one byte at a time.
 * Signals (Ctrl-C) stay on. */
static int keys_mode(void) {
    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &g_saved_tty) != 0)
        return 0;
    struct termios t = g_saved_tty;
    t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    g_tty_changed = 1;
    if (tcsetattr(STDIN_FILENO, TCSANOW, &t) != 0) {
        g_tty_changed = 0;
        return 0;
    }
    return 1;
}

/* Ctrl-C cancels like a key; a second one ends the program. */
static void on_interrupt(int sig) {
    if (atomic_load(&g_cause) == CAUSE_INTERRUPT) {
        restore_tty();
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    set_cause(CAUSE_INTERRUPT);
    difflm_ctx *ctx = atomic_load(&g_ctx);
    if (ctx)
        difflm_cancel(ctx);
}

/* Termination signals end the program as they would, but with the terminal restored
 * (tcsetattr is async-signal-safe). */
static void on_terminate(int sig) {
    restore_tty();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install_handlers(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sa.sa_handler = on_interrupt;
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_terminate;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGQUIT, &sa, NULL);
}

/* Blocks (or unblocks) the handled signals in this thread: threads created meanwhile
 * inherit the mask, so the handlers only ever run on the main thread. */
static void block_signals(int block) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGQUIT);
    pthread_sigmask(block ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL);
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void sleep_ms(double ms) {
    if (ms <= 0) return;
    struct timespec t = {(time_t)(ms / 1e3), (long)((ms - (double)(time_t)(ms / 1e3) * 1e3) * 1e6)};
    nanosleep(&t, NULL);
}

/* Sleeps until the absolute monotonic time `at_ms`. */
static void sleep_until_ms(double at_ms) {
    struct timespec t = {(time_t)(at_ms / 1e3), 0};
    t.tv_nsec = (long)((at_ms - (double)t.tv_sec * 1e3) * 1e6);
    if (t.tv_nsec < 0) t.tv_nsec = 0;
    if (t.tv_nsec > 999999999) t.tv_nsec = 999999999;
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) != 0) {
    }
}

/* Polls in short slices so the frame loop's quit flag ends it promptly. */
static void *watchdog_main(void *arg) {
    watchdog *w = arg;
    double deadline = now_ms() + w->cancel_after_ms;
    while (!atomic_load(&w->quit)) {
        int cause = CAUSE_NONE;
        if (w->keys) {
            struct pollfd p = {STDIN_FILENO, POLLIN, 0};
            unsigned char key[16];
            if (poll(&p, 1, 5) > 0 && (p.revents & POLLIN) && read(STDIN_FILENO, key, sizeof key) > 0) {
                atomic_store(&w->key, key[0]);
                cause = CAUSE_KEY;
            }
        } else {
            sleep_ms(5);
        }
        if (cause == CAUSE_NONE && now_ms() >= deadline)
            cause = CAUSE_WATCHDOG;
        if (cause != CAUSE_NONE) {
            set_cause(cause);
            difflm_cancel(w->ctx);  /* the one call that is safe from this thread */
            break;
        }
    }
    return NULL;
}

/* One text line: the generated region, committed tokens as text, masked ones as '_'. */
static void draw(difflm_ctx *ctx, int frame, int step, int total, const difflm_token *canvas,
                 size_t n, size_t prompt_len, difflm_token mask, int tty) {
    char line[LINE_CAP], piece[64];
    size_t len = 0;
    size_t masked = 0;
    for (size_t i = prompt_len; i < n && len + 8 < LINE_CAP; i++) {
        size_t k = 0;
        if (canvas[i] == mask) {
            masked++;
            piece[k++] = '_';
        } else if (difflm_detokenize(ctx, &canvas[i], 1, 0, piece, sizeof piece, &k) != DIFFLM_OK) {
            piece[0] = '?';
            k = 1;
        }
        for (size_t j = 0; j < k && len + 8 < LINE_CAP; j++) {
            unsigned char c = (unsigned char)piece[j];
            line[len++] = (c < 0x20 || c == 0x7f) ? '.' : (char)c;  /* keep one line */
        }
    }
    line[len] = '\0';
    printf(tty ? "\r\033[Kframe %4d  step %3d/%-3d  masked %3zu | %s" : "frame %4d  step %3d/%-3d  masked %3zu | %s\n",
           frame, step, total, masked, line);
    fflush(stdout);
}

static int parse(int argc, char **argv, options *o) {
    *o = (options){NULL, "And God said", NULL, 600, 64, 32, 32, 5, 60, 8, 1, 10000};
    /* The model path is optional: without it, the project's default model. */
    int first = argc > 1 && strncmp(argv[1], "--", 2) != 0 ? 2 : 1;
    o->model = first == 2 ? argv[1] : difflm_default_model();
    for (int i = first; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) return -1;
        i++;
        if (!strcmp(a, "--prompt")) o->prompt = v;
        else if (!strcmp(a, "--frames")) o->frames = atoi(v);
        else if (!strcmp(a, "--fps")) o->fps = atof(v);
        else if (!strcmp(a, "--budget-ms")) o->budget_ms = atof(v);
        else if (!strcmp(a, "--work-ms")) o->work_ms = atof(v);
        else if (!strcmp(a, "--heavy-every")) o->heavy_every = atoi(v);
        else if (!strcmp(a, "--cancel-after-ms")) o->cancel_after_ms = atof(v);
        else if (!strcmp(a, "--gen")) o->gen = atoi(v);
        else if (!strcmp(a, "--steps")) o->steps = atoi(v);
        else if (!strcmp(a, "--block")) o->block = atoi(v);
        else if (!strcmp(a, "--expect")) o->expect = v;
        else return -1;
    }
    if (o->frames < 1 || o->fps <= 0 || o->budget_ms < 0 || o->work_ms < 0 || o->heavy_every < 0)
        return -1;
    static const char *const expectable[] = {"done", "cancelled", "key", "watchdog", "interrupt"};
    int known = !o->expect;
    for (size_t i = 0; i < sizeof expectable / sizeof *expectable; i++)
        known |= o->expect && !strcmp(o->expect, expectable[i]);
    return known ? 0 : -1;
}

/* " by a key press ('q')" and the like: what cancelled generation, for the last line. */
static void describe_cause(char *out, size_t cap, int cause, int key, double watchdog_ms) {
    if (cause == CAUSE_KEY && key > 0x20 && key < 0x7f)
        snprintf(out, cap, " by a key press ('%c')", key);
    else if (cause == CAUSE_KEY)
        snprintf(out, cap, " by a key press (byte 0x%02x)", (unsigned)key);
    else if (cause == CAUSE_WATCHDOG)
        snprintf(out, cap, " by the watchdog (%.0f ms)", watchdog_ms);
    else if (cause == CAUSE_INTERRUPT)
        snprintf(out, cap, " by Ctrl-C");
    else
        out[0] = '\0';
}

/* Whether the run ended as --expect asked. */
static int as_expected(const char *expect, const char *outcome, int cause) {
    if (!strcmp(expect, "key")) return !strcmp(outcome, "cancelled") && cause == CAUSE_KEY;
    if (!strcmp(expect, "watchdog")) return !strcmp(outcome, "cancelled") && cause == CAUSE_WATCHDOG;
    if (!strcmp(expect, "interrupt")) return !strcmp(outcome, "cancelled") && cause == CAUSE_INTERRUPT;
    return !strcmp(expect, outcome);
}

int main(int argc, char **argv) {
    options o;
    if (parse(argc, argv, &o) != 0) {
        fprintf(stderr, "usage: %s [MODEL.gguf] [--prompt T] [--frames N] [--fps F] [--budget-ms B] "
                        "[--work-ms W] [--heavy-every K] [--cancel-after-ms M] [--gen N] "
                        "[--steps S] [--block L] [--expect done|cancelled|key|watchdog|interrupt]\n",
                argv[0]);
        return 2;
    }
    /* Every thread started from here on (the library's, the watchdog) inherits blocked
     * signals, so the handlers run on this thread only. */
    install_handlers();
    block_signals(1);
    difflm_params p;
    difflm_params_init(&p);
    p.model_path = o.model;
    p.n_threads = 1;  /* a game keeps its other cores */
    int st;
    difflm_ctx *ctx = difflm_create(&p, &st);
    if (!ctx) {
        fprintf(stderr, "cannot load %s: %s\n", o.model, difflm_status_str(st));
        return 1;
    }
    difflm_model_info info = {.struct_size = sizeof info};
    difflm_model_info_get(ctx, &info);

    static difflm_token prompt[MAX_CANVAS], canvas[MAX_CANVAS];
    size_t n_prompt = 0, n_canvas = 0;
    uint32_t flags = DIFFLM_TOKENIZE_PARSE_SPECIAL | (info.add_bos ? DIFFLM_TOKENIZE_ADD_BOS : 0u);
    difflm_gen_params g;
    difflm_gen_params_init(&g);
    g.gen_length = o.gen;
    g.steps = o.steps;
    g.block_length = o.block;
    st = difflm_tokenize(ctx, o.prompt, strlen(o.prompt), flags, prompt, MAX_CANVAS, &n_prompt);
    if (st == DIFFLM_OK) st = difflm_generate_begin(ctx, prompt, n_prompt, &g);
    if (st != DIFFLM_OK) {
        fprintf(stderr, "%s: %s\n", difflm_status_str(st), difflm_last_error(ctx));
        difflm_free(ctx);
        return 1;
    }

    /* From here to restore_tty() below there is no return: the terminal is changed. */
    watchdog w = {ctx, o.cancel_after_ms, keys_mode(), 0, 0};
    pthread_t thread;
    int started = pthread_create(&thread, NULL, watchdog_main, &w) == 0;
    if (started)
        atomic_store(&g_ctx, ctx);
    block_signals(0);
    if (!started) {
        restore_tty();
        fprintf(stderr, "cannot start the watchdog thread\n");
        difflm_free(ctx);
        return 1;
    }
    if (w.keys)
        fprintf(stderr, "press any key to cancel\n");

    int tty = isatty(STDOUT_FILENO);
    double period = 1e3 / o.fps, next = now_ms();
    int frame = 0, step = 0, skipped = 0, gen_status = DIFFLM_OK;
    for (frame = 1; frame <= o.frames; frame++) {
        double start = now_ms();
        /* The game's own work for this frame; heavy frames exhaust the budget. */
        int heavy = o.heavy_every > 0 && frame % o.heavy_every == 0;
        sleep_ms(heavy ? 2 * o.budget_ms : o.work_ms);

        if (gen_status == DIFFLM_OK) {
            if (now_ms() - start < o.budget_ms) {
                gen_status = difflm_generate_step(ctx);  /* one forward pass, at most */
                if (gen_status >= 0) step++;
            } else {
                skipped++;
            }
        }
        if (difflm_canvas(ctx, canvas, MAX_CANVAS, &n_canvas) == DIFFLM_OK)
            draw(ctx, frame, step, o.steps, canvas, n_canvas, n_prompt, info.mask_id, tty);
        if (gen_status != DIFFLM_OK) break;  /* finished, cancelled or failed */

        /* Fixed rate: wait for the next tick; after an overrun, start again from now
         * rather than running frames back to back to catch up. */
        next += period;
        double t = now_ms();
        if (next < t) next = t;
        else sleep_until_ms(next);
    }
    if (frame > o.frames) frame = o.frames;

    atomic_store(&w.quit, 1);
    pthread_join(thread, NULL);
    block_signals(1);  /* no handler runs from here: the context goes away */
    atomic_store(&g_ctx, NULL);
    restore_tty();
    if (tty) printf("\n");

    const char *outcome = gen_status == DIFFLM_DONE ? "done"
                          : gen_status == DIFFLM_E_CANCELLED ? "cancelled"
                          : gen_status == DIFFLM_OK ? "out of frames" : "error";
    int cause = atomic_load(&g_cause);
    char why[64] = "";
    if (gen_status == DIFFLM_E_CANCELLED)
        describe_cause(why, sizeof why, cause, atomic_load(&w.key), o.cancel_after_ms);
    printf("%s%s after %d frames: %d steps, %d frames skipped their step\n", outcome, why, frame,
           step, skipped);
    if (gen_status < 0 && gen_status != DIFFLM_E_CANCELLED)
        fprintf(stderr, "%s: %s\n", difflm_status_str(gen_status), difflm_last_error(ctx));
    difflm_free(ctx);
    if (gen_status < 0 && gen_status != DIFFLM_E_CANCELLED) return 1;
    if (o.expect && !as_expected(o.expect, outcome, gen_status == DIFFLM_E_CANCELLED ? cause : CAUSE_NONE)) {
        fprintf(stderr, "expected '%s', got '%s%s'\n", o.expect, outcome, why);
        return 1;
    }
    return 0;
}
