/* difflm-server - an OpenAI-compatible HTTP server for diffusion language models, with a
 * page that shows the canvas filling in (doc/server.md). A host of the public API like
 * any other: one model (difflm_model_load), a pool of contexts (difflm_ctx_create), each
 * request's steps run on its connection's thread.
 *
 * main: options, the model and the pool, the daemon, then it waits for SIGINT / SIGTERM
 * (blocked in the threads it starts, caught by a handler that wakes main) and shuts down: running generations
 * are cancelled within a step, waiting requests get 503, everything is freed. */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "difflm.h"
#include "server.h"

/* SIGINT / SIGTERM: threads started before main (OpenBLAS's, at load time) do not have
 * them blocked, so the signal may land on any thread; the handler only posts the
 * semaphore main waits on (sem_post is async-signal-safe). */
static sem_t stop_sem;
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig) {
    stop_signal = sig;
    sem_post(&stop_sem);
}

static void log_to_stderr(int32_t level, const char *message, void *user) {
    (void)level;
    (void)user;
    fprintf(stderr, "difflm: %s\n", message);
}

/* The model's id in the API: the file's name without directory and ".gguf". */
static void model_id_of(const char *path, char *out, size_t cap) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 5 && !strcmp(base + n - 5, ".gguf"))
        n -= 5;
    snprintf(out, cap, "%.*s", (int)n, base);
}

int main(int argc, char **argv) {
    static server s;   /* static: the handlers' threads may outlive nothing of main's stack */
    int rc = config_parse(&s.cfg, argc, argv);
    if (rc)
        return rc > 0 ? 0 : 2;

    /* SIGINT / SIGTERM for sigwait below only: blocked before any thread starts, so every
     * thread (the library's pools, libmicrohttpd's) inherits the mask. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);   /* a client that left must not kill the server */
    sem_init(&stop_sem, 0, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    difflm_model_params mp;
    difflm_model_params_init(&mp);
    mp.path = s.cfg.model_path;
    if (s.cfg.verbose) {
        mp.log_fn = log_to_stderr;
        mp.log_level = DIFFLM_LOG_INFO;
    }
    int st;
    s.model = difflm_model_load(&mp, &st);
    if (!s.model) {
        fprintf(stderr, "difflm-server: cannot load '%s': %s%s\n", s.cfg.model_path,
                difflm_status_str(st), s.cfg.verbose ? "" : " (-v says more)");
        return 1;
    }
    if (s.cfg.model_id)
        snprintf(s.model_id, sizeof s.model_id, "%s", s.cfg.model_id);
    else
        model_id_of(s.cfg.model_path, s.model_id, sizeof s.model_id);

    int threads = s.cfg.threads;
    if (!threads) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores > s.cfg.contexts ? (int)(cores / s.cfg.contexts) : 1;
    }
    char err[256];
    s.pool = pool_create(s.model, s.cfg.contexts, threads, s.cfg.max_canvas, s.cfg.precision,
                         s.cfg.pack_weights, s.cfg.queue, &st, err, sizeof err);
    if (!s.pool) {
        fprintf(stderr, "difflm-server: cannot create the contexts: %s\n", err);
        difflm_model_free(s.model);
        return 1;
    }
    s.info.struct_size = sizeof s.info;
    difflm_model_info_get(pool_any(s.pool), &s.info);
    s.limits.model_id = s.model_id;
    s.limits.n_vocab = s.info.n_vocab;
    s.limits.max_gen_length = s.cfg.max_gen_length < s.info.max_canvas - 1
                                  ? s.cfg.max_gen_length : s.info.max_canvas - 1;
    s.limits.default_gen_length = s.cfg.default_gen_length < s.limits.max_gen_length
                                      ? s.cfg.default_gen_length : s.limits.max_gen_length;
    s.started = time(NULL);

    unsigned port = 0;
    struct MHD_Daemon *d = http_start(&s, &port);
    if (!d) {
        pool_free(s.pool);
        difflm_model_free(s.model);
        return 1;
    }
    const char *h = s.cfg.host;
    int v6 = strchr(h, ':') != NULL;
    printf("difflm-server: %s on http://%s%s%s:%u/ (%d context%s, %d thread%s each)\n",
           s.model_id, v6 ? "[" : "", h, v6 ? "]" : "", port, s.cfg.contexts,
           s.cfg.contexts == 1 ? "" : "s", threads, threads == 1 ? "" : "s");
    fflush(stdout);

    /* our threads keep the signals blocked; main takes them (or another thread's
     * handler posts for it) */
    pthread_sigmask(SIG_UNBLOCK, &stop_signals, NULL);
    while (sem_wait(&stop_sem) && errno == EINTR)
        ;
    int sig = stop_signal;
    fprintf(stderr, "difflm-server: %s, shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    atomic_store(&s.stopping, 1);
    /* No new connections; running generations end within a step and their streams send
     * their last events (an error saying so, then [DONE]); waiters get 503. Then the
     * connections close and their threads are joined. */
    MHD_socket listener = MHD_quiesce_daemon(d);
    if (listener != MHD_INVALID_SOCKET)
        close(listener);
    pool_close(s.pool);
    int left = pool_wait_idle(s.pool, 10.0);
    if (left)
        fprintf(stderr, "difflm-server: %d generation%s did not end within 10 s\n", left,
                left == 1 ? "" : "s");
    MHD_stop_daemon(d);
    pool_free(s.pool);
    difflm_model_free(s.model);
    return 0;
}
