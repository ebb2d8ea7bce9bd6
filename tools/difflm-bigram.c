/* difflm-bigram - the autoregressive baseline for difflm-score: a Witten-Bell bigram model
 * of the same tokenizer, counted on one text and evaluated on another.
 *
 *     difflm-bigram -m TOKENIZER.gguf --train F --eval F [--docs] [--canvas C]
 *                   [--max-windows N]
 *
 * Both files go through the scorer's own path (tools/score/corpus.h: documents, each
 * ended by EOS, windows of the canvas with BOS in front when the tokenizer adds BOS), so
 * the two tools predict exactly the same tokens and divide by the same bytes. The model
 * is in tools/score/bigram.h. It is a separate tool because it needs no model weights,
 * only a tokenizer (any GGUF with tokenizer.* keys), and a second text to count on.
 * Output on stdout, one key=value per line. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "difflm_internal.h"
#include "score/args.h"
#include "score/bigram.h"
#include "score/corpus.h"
#include "score/corpus_tok.h"

#define TOOL "difflm-bigram"

static void usage(FILE *f) {
    fprintf(f,
            "usage: " TOOL " -m TOKENIZER.gguf --train F --eval F [--docs] [--canvas C]\n"
            "                     [--max-windows N]\n"
            "  exact NLL of the --eval text under a Witten-Bell bigram counted on --train\n"
            "  --docs           blank lines separate documents; each ends with EOS\n"
            "  --canvas C       window length as in difflm-score, BOS included (default 256)\n"
            "  --max-windows N  evaluate the N windows difflm-score --max-windows N scores\n"
            "output keys: smoothing, canvas, train_tokens, train_docs, windows, windows_total,\n"
            "  answer_tokens, answer_bytes, nll_nats, nats_per_token, bits_per_byte\n");
}

/* Reads and tokenizes one file. */
static int load_stream(const char *path, const score_tokenizer *t, int split_docs,
                       score_stream *s) {
    score_err err = {0};
    char *text = NULL;
    size_t len = 0;
    int rc = score_read_file(path, &text, &len, &err);
    if (rc == 0)
        rc = score_stream_build(s, t, text, len, split_docs, &err);
    free(text);
    if (rc != 0)
        fprintf(stderr, TOOL ": %s: %s\n", path, err.msg);
    return rc;
}

int main(int argc, char **argv) {
    const char *tok_path = NULL, *train_path = NULL, *eval_path = NULL;
    int split_docs = 0;
    int64_t canvas = 256, max_windows = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--docs")) {
            split_docs = 1;
            continue;
        }
        static const char *const with_value[] = { "-m", "--model", "--train", "--eval",
            "--canvas", "--max-windows" };
        const char *v;
        if (score_option_value(TOOL, argc, argv, &i, with_value,
                               sizeof with_value / sizeof with_value[0], usage, &v))
            return 2;
        if (!strcmp(a, "--train"))
            train_path = v;
        else if (!strcmp(a, "--eval"))
            eval_path = v;
        else if (!strcmp(a, "--canvas")) {
            if (score_parse_i64(TOOL, a, v, 1, 1 << 20, &canvas))
                return 2;
        } else if (!strcmp(a, "--max-windows")) {
            if (score_parse_i64(TOOL, a, v, 1, INT64_MAX, &max_windows))
                return 2;
        } else
            tok_path = v;
    }
    if (!tok_path || !train_path || !eval_path) {
        fprintf(stderr, TOOL ": -m, --train and --eval are required\n");
        usage(stderr);
        return 2;
    }

    int rc = 1;
    dl_err err;
    dl_err_clear(&err);
    score_err serr = {0};
    score_tokenizer st;
    dl_gguf *g = NULL;
    dl_tok *t = NULL;
    uint32_t *tok_bytes = NULL;
    score_stream train = {0}, eval = {0};
    score_bigram bg = {0};

    if (dl_gguf_open(&g, tok_path, &err) != 0 || dl_tok_load(&t, g, &err) != 0) {
        fprintf(stderr, TOOL ": %s: %s\n", tok_path, err.msg);
        goto done;
    }
    score_tokenizer_from_tok(&st, t);
    const dl_tok_special *sp = dl_tok_specials(t);
    const int32_t ctx_id = sp->add_bos && sp->bos >= 0 ? sp->bos : -1;
    if (canvas <= (ctx_id >= 0)) {
        fprintf(stderr, TOOL ": --canvas %lld leaves no room after BOS\n", (long long)canvas);
        goto done;
    }
    const size_t body = (size_t)canvas - (ctx_id >= 0);
    if (load_stream(train_path, &st, split_docs, &train) != 0 ||
        load_stream(eval_path, &st, split_docs, &eval) != 0)
        goto done;
    score_windows wt, we;
    score_windows_plan(&wt, train.n, body, 0);
    score_windows_plan(&we, eval.n, body, 0);
    if (we.count == 0) {
        fprintf(stderr, TOOL ": %s has no tokens to score\n", eval_path);
        goto done;
    }
    const int32_t n_vocab = dl_tok_n_vocab(t);
    tok_bytes = malloc((size_t)n_vocab * sizeof *tok_bytes);
    if (!tok_bytes) {
        fprintf(stderr, TOOL ": out of memory\n");
        goto done;
    }
    const size_t take = score_windows_take(&we, max_windows);
    double nll = 0.0;
    size_t n_scored = 0;
    if (score_token_bytes(tok_bytes, &st, &serr) != 0 ||
        score_bigram_train(&bg, train.ids, &wt, ctx_id, n_vocab, &serr) != 0 ||
        score_bigram_nll(&bg, eval.ids, &we, ctx_id, take, &nll, &n_scored, &serr) != 0) {
        fprintf(stderr, TOOL ": %s\n", serr.msg);
        goto done;
    }
    size_t bytes = 0;
    for (size_t j = 0; j < take; j++) {
        size_t start, len;
        score_window_at(&we, score_window_pick(&we, j, take), &start, &len);
        bytes += score_span_bytes(tok_bytes, eval.ids, start, len);
    }
    printf("smoothing=witten-bell\ncanvas=%lld\ntrain_tokens=%zu\ntrain_docs=%zu\nwindows=%zu\n"
           "windows_total=%zu\nanswer_tokens=%zu\nanswer_bytes=%zu\nnll_nats=%.6f\n"
           "nats_per_token=%.6f\nbits_per_byte=%.6f\n",
           (long long)canvas, train.n, train.n_docs, take, we.count, n_scored, bytes, nll,
           nll / (double)n_scored, nll / log(2.0) / (double)bytes);
    rc = fflush(stdout) == 0 ? 0 : 1;

done:
    score_bigram_free(&bg);
    free(tok_bytes);
    score_stream_free(&eval);
    score_stream_free(&train);
    dl_tok_free(t);
    dl_gguf_close(g);
    return rc;
}
