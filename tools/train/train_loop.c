/* train_loop.c - one training run: start fresh or resume from the checkpoint, then
 * steps of sample -> mask -> forward/backward -> clip -> AdamW, with the train loss
 * logged every log_every steps, the validation loss every eval_every steps (the same
 * objective on fixed windows with a fixed mask seed, so evaluations are comparable),
 * and a checkpoint every ckpt_every steps and at the end. SIGINT / SIGTERM finish the
 * current step, write a checkpoint and stop. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "difflm_internal.h"
#include "train.h"

#define VAL_MASK_SEED 0x76616c6d61736bull   /* fixed: every evaluation masks alike */

static volatile sig_atomic_t g_stop = 0;
static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct run {
    tr_state st;
    tr_model *model;
    float *m, *v;
    size_t n;
    tr_data train, val;
    tr_sft sft, sft_val;        /* instruction pairs (st.sft set) */
    tr_batch batch;
    int32_t bos, eos, mask;
    FILE *log;
    char ckpt[TR_PATH_MAX + 16];
} run;

/* Specials and vocabulary size from the tokenizer file. */
static int read_specials(run *r, const char *path, dl_err *err) {
    dl_gguf *g = NULL;
    dl_tok *t = NULL;
    int rc = dl_gguf_open(&g, path, err);
    if (!rc)
        rc = dl_tok_load(&t, g, err);
    if (!rc) {
        const dl_tok_special *sp = dl_tok_specials(t);
        r->bos = sp->bos;
        r->eos = sp->eos;
        r->mask = sp->mask;
        if (sp->bos < 0 || sp->mask < 0 || sp->eos < 0)
            rc = dl_fail(err, DIFFLM_E_FORMAT, "tokenizer '%s' lacks BOS, EOS or MASK", path);
        else if (r->st.cfg.n_vocab != dl_tok_n_vocab(t))
            rc = dl_fail(err, DIFFLM_E_INVALID_ARG, "tokenizer '%s' has %d tokens, the model %d",
                         path, dl_tok_n_vocab(t), r->st.cfg.n_vocab);
    }
    dl_tok_free(t);
    dl_gguf_close(g);
    return rc;
}

/* Keeps the header and the rows of steps <= last_step (a resumed run rewrites the rest). */
static int open_log(run *r, const char *path, int resume, dl_err *err) {
    const char *hdr = r->st.sft[0] ? "step,lr,train_loss,val_loss,tokens_seen,elapsed,sft_val_loss\n"
                                   : "step,lr,train_loss,val_loss,tokens_seen,elapsed\n";
    if (resume) {
        FILE *f = fopen(path, "rb");
        char *keep = NULL;
        size_t kn = 0;
        if (f) {
            char line[512];
            size_t cap = 1 << 16;
            keep = malloc(cap);
            while (keep && fgets(line, sizeof line, f)) {
                long long s;
                if (sscanf(line, "%lld,", &s) == 1 && s > r->st.step)
                    continue;
                size_t ln = strlen(line);
                if (kn + ln + 1 > cap) {
                    char *nk = realloc(keep, cap * 2);
                    if (!nk)
                        break;
                    keep = nk;
                    cap *= 2;
                }
                memcpy(keep + kn, line, ln);
                kn += ln;
            }
            fclose(f);
        }
        r->log = fopen(path, "wb");
        if (r->log) {
            if (kn)
                fwrite(keep, 1, kn, r->log);
            else
                fputs(hdr, r->log);
        }
        free(keep);
    } else {
        r->log = fopen(path, "wb");
        if (r->log)
            fputs(hdr, r->log);
    }
    if (!r->log)
        return dl_fail(err, DIFFLM_E_IO, "cannot write log '%s'", path);
    fflush(r->log);
    return 0;
}

static void log_row(run *r, float lr, double train_loss, double val_loss, double sft_loss,
                    double elapsed) {
    if (!r->log)
        return;
    fprintf(r->log, "%lld,%.6g,", (long long)r->st.step, (double)lr);
    if (!isnan(train_loss))
        fprintf(r->log, "%.6f", train_loss);
    fputc(',', r->log);
    if (!isnan(val_loss))
        fprintf(r->log, "%.6f", val_loss);
    fprintf(r->log, ",%lld,%.1f", (long long)r->st.tokens_seen, elapsed);
    if (r->st.sft[0]) {
        fputc(',', r->log);
        if (!isnan(sft_loss))
            fprintf(r->log, "%.6f", sft_loss);
    }
    fputc('\n', r->log);
    fflush(r->log);
}

/* The validation loss on eval_windows fixed windows of val (sft 0), or on as many
 * evenly spaced held-out instruction pairs (sft 1: per position after the prompt, the
 * EOS padding included, as in training). */
static double evaluate(run *r, int sft) {
    const tr_hyper *h = &r->st.hp;
    uint64_t rng = VAL_MASK_SEED;
    double loss = 0.0;
    int32_t n = h->eval_windows;
    if (sft && (size_t)n > r->sft_val.n)
        n = (int32_t)r->sft_val.n;
    for (int32_t first = 0; first < n; first += h->batch) {
        int32_t k = n - first < h->batch ? n - first : h->batch;
        if (sft)
            tr_sft_val_batch(&r->batch, &r->sft_val, first, k, n, r->bos, r->eos);
        else
            tr_val_batch(&r->batch, &r->val, first, k, n, r->bos);
        tr_apply_mask(&r->batch, r->mask, n, &rng);
        loss += tr_forward_backward(r->model, &r->batch, 0);
    }
    return loss;
}

static int save(run *r, double elapsed, dl_err *err) {
    r->st.elapsed = elapsed;
    return tr_ckpt_save(r->ckpt, &r->st, tr_model_params(r->model), r->m, r->v, r->n, err);
}

static int setup(run *r, const tr_opts *o, dl_err *err) {
    float *p = NULL;
    int rc;
    snprintf(r->ckpt, sizeof r->ckpt, "%s/ckpt.bin", o->ckpt_dir);
    if (o->resume) {
        if ((rc = tr_ckpt_load(r->ckpt, &r->st, &p, &r->m, &r->v, &r->n, err)))
            return rc;
        /* Moving the end of a run (to fit the time a machine has left): the cosine decay
         * is recomputed for the new end, so the learning rate jumps to the new curve. */
        if (o->end_at > 0) {
            if (o->end_at <= r->st.step)
                return dl_fail(err, DIFFLM_E_INVALID_ARG, "--end-at %lld must be past step %lld",
                               (long long)o->end_at, (long long)r->st.step);
            r->st.hp.steps = o->end_at;
        }
        /* switching precision mid-run is allowed; the checkpoints record it from then on */
        if (o->precision_given)
            r->st.hp.bf16 = o->hp.bf16;
        if (o->verbose)
            fprintf(stderr, "resuming %s at step %lld of %lld\n", r->ckpt,
                    (long long)r->st.step, (long long)r->st.hp.steps);
    } else {
        memset(&r->st, 0, sizeof r->st);
        r->st.cfg = o->cfg;
        r->st.hp = o->hp;
        /* a model file carries its tokenizer.* keys, and lib/tok reads them from any GGUF */
        const char *tok = o->tokenizer ? o->tokenizer : o->init_from;
        if (!tok || !o->train || !o->val)
            return dl_fail(err, DIFFLM_E_INVALID_ARG,
                           "a fresh run needs --tokenizer (or --init-from), --train, --val");
        snprintf(r->st.tokenizer, TR_PATH_MAX, "%s", tok);
        snprintf(r->st.train, TR_PATH_MAX, "%s", o->train);
        snprintf(r->st.val, TR_PATH_MAX, "%s", o->val);
        if (!o->sft != !o->sft_val || (o->sft && !(o->hp.sft_frac > 0.0f && o->hp.sft_frac <= 1.0f)) ||
            (!o->sft && o->hp.sft_frac != 0.0f))
            return dl_fail(err, DIFFLM_E_INVALID_ARG, "instruction pairs need --sft, --sft-val "
                           "and --sft-frac in (0, 1], all three or none");
        if (o->sft) {
            snprintf(r->st.sft, TR_PATH_MAX, "%s", o->sft);
            snprintf(r->st.sft_val, TR_PATH_MAX, "%s", o->sft_val);
        }
        r->st.data_rng = r->st.hp.seed * 0x9e3779b97f4a7c15ull + 1;
        r->st.mask_rng = r->st.hp.seed * 0xd1b54a32d192ed03ull + 2;
        if (o->init_from) {
            /* the model's weights, fresh Adam moments (zero), step 0, the given schedule */
            if ((rc = tr_init_from_gguf(o->init_from, &r->st.cfg, o->grow, &p, err)))
                return rc;
            if (o->verbose)
                fprintf(stderr, "initialised from %s%s\n", o->init_from,
                        o->grow ? " (grown in depth)" : "");
        } else {
            if ((rc = tr_config_check(&r->st.cfg, err)))
                return rc;
            if (!(p = malloc(tr_n_params(&r->st.cfg) * sizeof(float))))
                return dl_fail(err, DIFFLM_E_NOMEM, "%zu parameters", tr_n_params(&r->st.cfg));
            tr_init_params(p, &r->st.cfg, r->st.hp.seed);
        }
        r->n = tr_n_params(&r->st.cfg);
        r->m = calloc(r->n, sizeof(float));
        r->v = calloc(r->n, sizeof(float));
        if (!r->m || !r->v) {
            free(p);
            return dl_fail(err, DIFFLM_E_NOMEM, "%zu parameters", r->n);
        }
    }
    const tr_hyper *h = &r->st.hp;
    if (h->batch < 1 || h->steps < 1 || h->threads < 1 || h->eval_windows < 1 ||
        h->log_every < 1 || h->eval_every < 1 || h->ckpt_every < 1) {
        free(p);
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "batch, steps, threads, eval windows and "
                       "intervals must be >= 1");
    }
    rc = read_specials(r, r->st.tokenizer, err);
    if (!rc)
        rc = tr_data_load(&r->train, r->st.train, r->st.tokenizer, o->verbose, err);
    if (!rc)
        rc = tr_data_load(&r->val, r->st.val, r->st.tokenizer, o->verbose, err);
    if (!rc && (r->train.n < (size_t)r->st.cfg.n_ctx || r->val.n < (size_t)r->st.cfg.n_ctx))
        rc = dl_fail(err, DIFFLM_E_INVALID_ARG, "train (%zu) or val (%zu) tokens shorter than "
                     "one canvas (%d)", r->train.n, r->val.n, r->st.cfg.n_ctx);
    if (!rc && r->st.sft[0]) {
        rc = tr_sft_load(&r->sft, r->st.sft, r->st.tokenizer, r->st.cfg.n_ctx, err);
        if (!rc)
            rc = tr_sft_load(&r->sft_val, r->st.sft_val, r->st.tokenizer, r->st.cfg.n_ctx, err);
        if (!rc && o->verbose)
            fprintf(stderr, "instruction pairs: %zu (%zu too long) for %.0f%% of each step; "
                    "%zu held out (%zu too long)\n", r->sft.n, r->sft.n_dropped,
                    100.0 * h->sft_frac, r->sft_val.n, r->sft_val.n_dropped);
    }
    if (!rc)
        rc = tr_model_new(&r->model, &r->st.cfg, h->batch, h->threads, err);
    if (!rc)
        tr_model_set_bf16(r->model, h->bf16);
    if (!rc)
        memcpy(tr_model_params(r->model), p, r->n * sizeof(float));
    free(p);
    if (!rc)
        rc = tr_batch_init(&r->batch, h->batch, r->st.cfg.n_ctx, err);
    return rc;
}

static void teardown(run *r) {
    if (r->log)
        fclose(r->log);
    tr_batch_free(&r->batch);
    tr_model_free(r->model);
    tr_data_free(&r->train);
    tr_data_free(&r->val);
    tr_sft_free(&r->sft);
    tr_sft_free(&r->sft_val);
    free(r->m);
    free(r->v);
}

int tr_train(const tr_opts *o, dl_err *err) {
    run r;
    memset(&r, 0, sizeof r);
    int rc = setup(&r, o, err);
    const tr_hyper *h = &r.st.hp;
    if (rc)
        goto out;
    if (o->bench <= 0) {
        mkdir(o->ckpt_dir, 0777);
        char lp[TR_PATH_MAX + 16];
        snprintf(lp, sizeof lp, "%s/log.csv", o->ckpt_dir);
        if ((rc = open_log(&r, o->log_csv ? o->log_csv : lp, o->resume, err)))
            goto out;
    }
    if (o->verbose) {
        size_t real = 0;
        tr_tensor tab[TR_N_TENSORS(TR_MAX_LAYERS)];
        int nt = tr_tensor_table(&r.st.cfg, tab);
        for (int i = 0; i < nt; i++)
            real += (size_t)(tab[i].ne0 * tab[i].ne1);
        fprintf(stderr, "model: %zu parameters (E %d, L %d, heads %d/%d x %d, ff %d, vocab %d, "
                "ctx %d); batch %d x %d tokens; %lld steps; train %zu tokens; products %s%s\n", real,
                r.st.cfg.n_embd, r.st.cfg.n_layer, r.st.cfg.n_head, r.st.cfg.n_head_kv,
                r.st.cfg.head_dim, r.st.cfg.n_ff, r.st.cfg.n_vocab, r.st.cfg.n_ctx, h->batch,
                r.st.cfg.n_ctx, (long long)h->steps, r.train.n,
                h->bf16 ? "bf16, " : "f32", h->bf16 ? dl_bf16_path_name(dl_bf16_best()) : "");
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    double t0 = now_s(), base_elapsed = r.st.elapsed;
    int with_sft = r.st.sft[0] != 0;
    if (o->bench <= 0 && r.st.step == 0 && !o->resume) {
        double vl = evaluate(&r, 0), sl = with_sft ? evaluate(&r, 1) : NAN;
        log_row(&r, 0.0f, NAN, vl, sl, 0.0);
        if (o->verbose && with_sft)
            fprintf(stderr, "step 0: val loss %.4f  sft val %.4f\n", vl, sl);
        else if (o->verbose)
            fprintf(stderr, "step 0: val loss %.4f\n", vl);
    }
    /* a fixed number of pairs per step, after the windows: the same mix every step */
    int32_t n_sft = with_sft ? (int32_t)lroundf(h->sft_frac * (float)h->batch) : 0;
    if (with_sft && n_sft < 1)
        n_sft = 1;
    int64_t end = h->steps;
    if (o->stop_after > 0 && o->stop_after < end)
        end = o->stop_after;
    if (o->bench > 0 && r.st.step + o->bench < end)
        end = r.st.step + o->bench;
    double win_loss = 0.0, win_t = now_s();
    int64_t win_steps = 0, win_tokens = 0;
    while (r.st.step < end && !g_stop) {
        tr_sample_batch(&r.batch, &r.train, h->batch - n_sft, h->cut_frac, r.bos, &r.st.data_rng);
        if (n_sft)
            tr_sft_sample(&r.batch, &r.sft, n_sft, r.bos, r.eos, &r.st.data_rng);
        tr_apply_mask(&r.batch, r.mask, h->batch, &r.st.mask_rng);
        double loss = tr_forward_backward(r.model, &r.batch, 1);
        double gn = tr_grad_norm(tr_model_grads(r.model), r.n);
        float scale = gn > h->clip ? (float)(h->clip / gn) : 1.0f;
        float lr = tr_lr_at(h, r.st.step);
        tr_adamw_update(tr_model_params(r.model), r.m, r.v, tr_model_grads(r.model), &r.st.cfg,
                        h, lr, scale, r.st.step + 1);
        r.st.step++;
        r.st.tokens_seen += r.batch.n_rows;
        win_loss += loss;
        win_steps++;
        win_tokens += r.batch.n_rows;
        double elapsed = base_elapsed + (now_s() - t0);
        int last = r.st.step == end || g_stop;
        int want_log = r.st.step % h->log_every == 0 || last;
        int want_eval = o->bench <= 0 && (r.st.step % h->eval_every == 0 || r.st.step == h->steps);
        if (want_log || want_eval) {
            double tl = win_steps ? win_loss / (double)win_steps : NAN;
            double vl = want_eval ? evaluate(&r, 0) : NAN;
            double sl = want_eval && with_sft ? evaluate(&r, 1) : NAN;
            double dt = now_s() - win_t;
            if (o->verbose) {
                double tps = dt > 0 ? (double)win_tokens / dt : 0.0;
                double eta = tps > 0 ? (double)(end - r.st.step) * h->batch * r.st.cfg.n_ctx / tps : 0;
                fprintf(stderr, "step %lld/%lld  loss %.4f%s", (long long)r.st.step,
                        (long long)h->steps, tl, want_eval ? "" : "\n");
                if (want_eval && with_sft)
                    fprintf(stderr, "  val %.4f  sft val %.4f\n", vl, sl);
                else if (want_eval)
                    fprintf(stderr, "  val %.4f\n", vl);
                fprintf(stderr, "    lr %.3g  gnorm %.3f  %.0f tok/s  elapsed %.0fs  eta %.0fs\n",
                        (double)lr, gn, tps, elapsed, eta);
            }
            log_row(&r, lr, tl, vl, sl, elapsed);
            win_loss = 0.0;
            win_steps = win_tokens = 0;
            win_t = now_s();
        }
        if (o->bench <= 0 && (r.st.step % h->ckpt_every == 0 || last)) {
            if ((rc = save(&r, elapsed, err)))
                goto out;
        }
    }
    if (g_stop && o->verbose)
        fprintf(stderr, "stopped by signal after step %lld (checkpoint written)\n",
                (long long)r.st.step);
out:
    teardown(&r);
    return rc;
}
