/* train_main.c - the difflm-train command line.
 *
 *   difflm-train --tokenizer T.gguf --train train.txt --val val.txt --ckpt-dir DIR [options]
 *   difflm-train --init-from M.gguf --train train.txt --val val.txt --ckpt-dir DIR [options]
 *   difflm-train --ckpt-dir DIR --resume
 *   difflm-train --ckpt-dir DIR --export out.gguf [--export-f32]
 *
 * Debian's OpenBLAS does not recognise recent Intel cores and falls back to SSE3
 * kernels 4-6x slower than its AVX-512 ones (doc/performance.md, "OpenBLAS and AMX"). The core is chosen when the
 * library loads, so on an AVX-512 CPU without OPENBLAS_CORETYPE set, the program sets
 * it to SkylakeX and re-executes itself. The core is part of a run's identity: kernels
 * differ in summation order, so resume under the same setting for bitwise equality. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "difflm.h"
#include "difflm_internal.h"
#include "train.h"

#ifdef DL_HAVE_BLAS
#include <cblas.h>
#endif

static void usage(FILE *f) {
    fputs("usage: difflm-train --tokenizer T.gguf --train train.txt --val val.txt --ckpt-dir DIR\n"
          "                    [model] [training] [--log FILE.csv]\n"
          "       difflm-train --init-from M.gguf --train train.txt --val val.txt --ckpt-dir DIR\n"
          "                    [training]                   a fresh run (new optimizer state) from\n"
          "                                               M's weights; shape and tokenizer from M\n"
          "         [--grow-depth --n-layer N]            ... grown to N layers (more than M's),\n"
          "                                               computing what M computes at step 0\n"
          "       difflm-train --ckpt-dir DIR --resume      continue exactly where DIR stopped\n"
          "         [--end-at N]                          ... but end the run (and its learning-rate\n"
          "                                               decay) at step N instead\n"
          "       difflm-train --ckpt-dir DIR --export OUT.gguf [--export-f32]\n"
          "       difflm-train ... --bench N                time N steps, write nothing\n"
          "model:    --n-embd 256 --n-layer 8 --n-head 8 --n-head-kv 2 --n-ff 768 --ctx 256\n"
          "          --rope-theta 10000 --rms-eps 1e-5 (vocab: the tokenizer's)\n"
          "training: --batch 16 --steps 2000 --warmup 100 --lr 1.5e-3 --min-lr-frac 0.1\n"
          "          --wd 0.1 --clip 1.0 --cut-frac 0.01 --seed 1 --threads 2\n"
          "          --ckpt-every 100 --eval-every 100 --eval-windows 64 --log-every 10\n"
          "          --stop-after S   stop (with a checkpoint) after step S\n"
          "          --sft PAIRS.tsv --sft-val PAIRS.tsv --sft-frac F   instruction pairs\n"
          "                           (PROMPT<TAB>RESPONSE lines) for share F of each step's\n"
          "                           sequences, prompt unmasked, padded with EOS (LLaDA SFT)\n"
          "          --precision f32|bf16   products in f32 (default) or with bf16 operands\n"
          "                                 and f32 sums; with --resume, switches the run\n", f);
}

/* --n-embd --n-layer --n-head --n-head-kv --n-ff --ctx --rope-theta --rms-eps, in this
 * order, head the option table */
#define N_MODEL_OPTS 8

static int parse_num(const char *s, double *out) {
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    return errno || end == s || *end;
}

/* Vocabulary size from the tokenizer's token list. */
static int tokenizer_vocab(const char *path, int32_t *n, dl_err *err) {
    dl_gguf *g = NULL;
    uint32_t et;
    uint64_t cnt = 0;
    int rc = dl_gguf_open(&g, path, err);
    if (!rc)
        rc = dl_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &cnt, err);
    dl_gguf_close(g);
    *n = (int32_t)cnt;
    return rc;
}

static void maybe_reexec(char **argv) {
#if defined(DL_HAVE_BLAS) && defined(__x86_64__)
    if (getenv("OPENBLAS_CORETYPE") || getenv("DIFFLM_NO_REEXEC"))
        return;
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f"))
        return;
    setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
    execv("/proc/self/exe", argv);
    /* exec failed: carry on with whatever core OpenBLAS picked */
#else
    (void)argv;
#endif
}

int main(int argc, char **argv) {
    maybe_reexec(argv);
    tr_opts o;
    memset(&o, 0, sizeof o);
    tr_config_default(&o.cfg);
    o.cfg.n_vocab = 0;
    tr_hyper_default(&o.hp);
    o.verbose = 1;
    const char *export_path = NULL;
    int export_f32 = 0;
    unsigned model_given = 0;   /* bit k: model option nums[k] was on the command line */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--resume")) { o.resume = 1; continue; }
        if (!strcmp(a, "--grow-depth")) { o.grow = 1; continue; }
        if (!strcmp(a, "--export-f32")) { export_f32 = 1; continue; }
        if (!strcmp(a, "--quiet")) { o.verbose = 0; continue; }
        if (i + 1 >= argc) {
            fprintf(stderr, "difflm-train: %s needs a value\n", a);
            return 2;
        }
        const char *val = argv[++i];
        if (!strcmp(a, "--tokenizer")) { o.tokenizer = val; continue; }
        if (!strcmp(a, "--train")) { o.train = val; continue; }
        if (!strcmp(a, "--val")) { o.val = val; continue; }
        if (!strcmp(a, "--ckpt-dir")) { o.ckpt_dir = val; continue; }
        if (!strcmp(a, "--log")) { o.log_csv = val; continue; }
        if (!strcmp(a, "--export")) { export_path = val; continue; }
        if (!strcmp(a, "--init-from")) { o.init_from = val; continue; }
        if (!strcmp(a, "--sft")) { o.sft = val; continue; }
        if (!strcmp(a, "--sft-val")) { o.sft_val = val; continue; }
        if (!strcmp(a, "--precision")) {
            if (strcmp(val, "f32") && strcmp(val, "bf16")) {
                fprintf(stderr, "difflm-train: --precision takes f32 or bf16, not '%s'\n", val);
                return 2;
            }
            o.hp.bf16 = !strcmp(val, "bf16");
            o.precision_given = 1;
            continue;
        }
        double d;
        if (parse_num(val, &d)) {
            fprintf(stderr, "difflm-train: %s: '%s' is not a number\n", a, val);
            return 2;
        }
        /* the first N_MODEL_OPTS entries are the model's shape */
        struct { const char *name; int32_t *i32; int64_t *i64; float *f; } nums[] = {
            { "--n-embd", &o.cfg.n_embd, NULL, NULL }, { "--n-layer", &o.cfg.n_layer, NULL, NULL },
            { "--n-head", &o.cfg.n_head, NULL, NULL }, { "--n-head-kv", &o.cfg.n_head_kv, NULL, NULL },
            { "--n-ff", &o.cfg.n_ff, NULL, NULL }, { "--ctx", &o.cfg.n_ctx, NULL, NULL },
            { "--rope-theta", NULL, NULL, &o.cfg.rope_theta }, { "--rms-eps", NULL, NULL, &o.cfg.rms_eps },
            { "--batch", &o.hp.batch, NULL, NULL }, { "--steps", NULL, &o.hp.steps, NULL },
            { "--warmup", NULL, &o.hp.warmup, NULL }, { "--lr", NULL, NULL, &o.hp.lr },
            { "--min-lr-frac", NULL, NULL, &o.hp.min_lr_frac }, { "--wd", NULL, NULL, &o.hp.wd },
            { "--clip", NULL, NULL, &o.hp.clip }, { "--cut-frac", NULL, NULL, &o.hp.cut_frac },
            { "--sft-frac", NULL, NULL, &o.hp.sft_frac },
            { "--threads", &o.hp.threads, NULL, NULL }, { "--ckpt-every", NULL, &o.hp.ckpt_every, NULL },
            { "--eval-every", NULL, &o.hp.eval_every, NULL },
            { "--eval-windows", &o.hp.eval_windows, NULL, NULL },
            { "--log-every", NULL, &o.hp.log_every, NULL }, { "--stop-after", NULL, &o.stop_after, NULL },
            { "--end-at", NULL, &o.end_at, NULL },
            { "--bench", NULL, &o.bench, NULL },
        };
        int found = 0;
        for (size_t k = 0; k < sizeof nums / sizeof nums[0] && !found; k++) {
            if (strcmp(a, nums[k].name))
                continue;
            found = 1;
            if (k < N_MODEL_OPTS)
                model_given |= 1u << k;
            if (nums[k].i32) *nums[k].i32 = (int32_t)d;
            if (nums[k].i64) *nums[k].i64 = (int64_t)d;
            if (nums[k].f) *nums[k].f = (float)d;
        }
        if (!strcmp(a, "--seed")) {
            o.hp.seed = (uint64_t)d;
            found = 1;
        }
        if (!found) {
            fprintf(stderr, "difflm-train: unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!o.ckpt_dir) {
        usage(stderr);
        return 2;
    }
    if (o.grow && !o.init_from) {
        fprintf(stderr, "difflm-train: --grow-depth grows the model of --init-from\n");
        return 2;
    }
    if (o.init_from && (o.resume || export_path)) {
        fprintf(stderr, "difflm-train: --init-from starts a fresh run; it goes with neither "
                "--resume nor --export\n");
        return 2;
    }
    if (o.init_from) {
        /* unset shape options come from the model file; set ones are checked against it */
        int32_t *i32[] = { &o.cfg.n_embd, &o.cfg.n_layer, &o.cfg.n_head, &o.cfg.n_head_kv,
                           &o.cfg.n_ff, &o.cfg.n_ctx };
        for (int k = 0; k < 6; k++)
            if (!(model_given >> k & 1))
                *i32[k] = 0;
        if (!(model_given >> 6 & 1))
            o.cfg.rope_theta = 0.0f;
        if (!(model_given >> 7 & 1))
            o.cfg.rms_eps = 0.0f;
    }
    o.cfg.head_dim = o.cfg.n_head > 0 ? o.cfg.n_embd / o.cfg.n_head : 0;
    dl_err err = { 0 };
    int rc;
    if (export_path) {
        char ck[TR_PATH_MAX + 16];
        snprintf(ck, sizeof ck, "%s/ckpt.bin", o.ckpt_dir);
        tr_state st;
        float *p = NULL;
        size_t n;
        if (!(rc = tr_ckpt_load(ck, &st, &p, NULL, NULL, &n, &err)))
            rc = tr_export_gguf(export_path, &st.cfg, p, o.tokenizer ? o.tokenizer : st.tokenizer,
                                export_f32 ? DL_TYPE_F32 : DL_TYPE_F16, &err);
        free(p);
        if (!rc)
            fprintf(stderr, "exported step %lld of %s to %s\n", (long long)st.step, ck, export_path);
    } else {
#ifdef DL_HAVE_BLAS
        fprintf(stderr, "OpenBLAS core: %s (OPENBLAS_CORETYPE=%s)\n", openblas_get_corename(),
                getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "unset");
#endif
        rc = 0;
        if (!o.resume && o.tokenizer)
            rc = tokenizer_vocab(o.tokenizer, &o.cfg.n_vocab, &err);
        if (!rc)
            rc = tr_train(&o, &err);
    }
    if (rc) {
        fprintf(stderr, "difflm-train: %s (%s)\n", err.msg, difflm_status_str(rc));
        return 1;
    }
    return 0;
}
