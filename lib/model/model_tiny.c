/* model_tiny.c - writes tiny random-weight llada / dream GGUF files (see model_tiny.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt/ggml_types.h"
#include "kernels/kernels.h"
#include "model/model_tiny.h"

/* GPT-2's byte-level alphabet writes a space as U+0120 and a newline as U+010A. */
#define SP "\xc4\xa0"
#define NL "\xc4\x8a"

/* A fixed list of common English merges in rank order. Both sides of every merge are
 * earlier tokens (bytes or merge results), and every result is new. */
static const char *const k_merges[] = {
    SP " t", "h e", "i n", "e r", "a n", "o n", SP " a", "r e", SP "t he", "a t",
    "o r", "e n", SP " s", SP " w", "e s", "i s", SP " o", SP " c", "i t", "n d",
    "in g", SP " b", SP " f", "o u", SP " p", SP " m", "e d", SP "o f", SP " i", "a r",
    SP " d", "a l", SP "a nd", SP "t o", "l e", SP " h", SP "i n", "i c", "a s", SP " l",
    "o m", "s t", SP " n", "i on", SP " e", "l l", SP " g", "o w", SP " re", "en t",
    SP "i s", SP "t h", "v e", "c t", SP " y", "u t", "e t", SP " T", SP "w h", SP "o n",
    "i d", SP " u", "a y", SP "b e", SP "f or", "t h", SP " A", SP " I", SP "th at", "o t",
    "i m", SP "s t", "a c", SP "w it", SP "wit h", SP " S", "u r", SP "c on", SP " 1", "e l",
    "a m", "i l", SP " C", SP "y ou", SP "h a", SP "w as", NL " " NL, SP " " SP,
    SP SP " " SP SP, SP "i t",
    SP "a s", SP "a re", SP "a t", "l y", SP "b y", SP "n ot", "o o", "u s", SP "the y",
    SP "h e", SP "w e", SP "ha ve", SP "o r", SP "d o",
};
#define N_MERGES ((int32_t)(sizeof k_merges / sizeof k_merges[0]))

static const char *const k_specials[DL_TINY_N_SPECIAL] = {
    "<|startoftext|>", "<|endoftext|>", "<|start_header_id|>", "<|end_header_id|>",
    "<|eot_id|>", "<|mdm_mask|>", "<|im_start|>", "<|im_end|>",
};

int32_t dl_tiny_min_vocab(void) {
    return DL_TINY_N_SPECIAL + 256 + N_MERGES;
}

void dl_tiny_spec_init(dl_tiny_spec *s, int32_t arch) {
    memset(s, 0, sizeof *s);
    s->arch = arch;
    s->n_embd = 64;
    s->n_layer = 2;
    s->n_head = 4;
    s->n_head_kv = 4;
    s->n_ff = 128;
    s->n_vocab = 512;
    s->n_ctx = 256;
    s->mask_id = 5;
    s->wtype = DL_TYPE_F32;
    s->seed = 1;
    s->rope_theta = arch == DIFFLM_ARCH_DREAM ? 1000000.0f : 500000.0f;
    s->eps = arch == DIFFLM_ARCH_DREAM ? 1e-6f : 1e-5f;
    s->shift_key = 1;
}

/* --- deterministic weights */

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1): 53 random bits, never 0 so the logarithm below is finite. */
static double uniform01(uint64_t *s) {
    return ((double)(splitmix64(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static double normal01(uint64_t *s) {
    double u1 = uniform01(s), u2 = uniform01(s);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* One stream per tensor: the seed mixed with an FNV-1a hash of the name. */
static uint64_t tensor_stream(uint64_t seed, const char *name) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *p = name; *p; p++)
        h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
    uint64_t s = seed ^ h;
    splitmix64(&s);
    return s;
}

/* --- the builder: a writer plus the tensor bytes it borrows until serialisation */

typedef struct tiny_build {
    dl_gguf_writer *w;
    void **bufs;
    size_t n_bufs, cap_bufs;
    const dl_tiny_spec *s;
    int rc;
} tiny_build;

static void *keep(tiny_build *b, size_t n) {
    if (b->n_bufs == b->cap_bufs) {
        size_t cap = b->cap_bufs ? 2 * b->cap_bufs : 32;
        void **nb = realloc(b->bufs, cap * sizeof *nb);
        if (!nb)
            return NULL;
        b->bufs = nb;
        b->cap_bufs = cap;
    }
    void *p = malloc(n ? n : 1);
    if (p)
        b->bufs[b->n_bufs++] = p;
    return p;
}

static void note(tiny_build *b, int rc) {
    if (rc && !b->rc)
        b->rc = rc;
}

/* A Q8_0 matrix of rows x cols (cols % 32 == 0) with small random blocks. */
static void add_q8(tiny_build *b, const char *name, int64_t cols, int64_t rows, uint64_t st) {
    size_t nblk = (size_t)(cols / 32) * (size_t)rows;
    uint8_t *p = keep(b, nblk * 34);
    if (!p) {
        note(b, DIFFLM_E_NOMEM);
        return;
    }
    for (size_t i = 0; i < nblk; i++) {
        uint16_t d = dl_f32_to_f16(0.01f);
        memcpy(p + i * 34, &d, 2);
        for (int j = 0; j < 32; j++)
            p[i * 34 + 2 + j] = (uint8_t)(splitmix64(&st) & 0xff);
    }
    int64_t ne[2] = { cols, rows };
    note(b, dl_gguf_w_tensor(b->w, name, DL_TYPE_Q8_0, 2, ne, p));
}

/* Adds tensor `name` of {cols, rows} (rows = 1: a 1-D vector) with values
 * center + scale * N(0, 1), stored as `type` (F32 / F16 / BF16). */
static void add_tensor(tiny_build *b, const char *name, int64_t cols, int64_t rows,
                       uint32_t type, double center, double scale) {
    const dl_tiny_spec *s = b->s;
    if (b->rc || (s->omit_tensor && strcmp(name, s->omit_tensor) == 0))
        return;
    int is_vec = rows == 1;
    if (s->bad_shape_tensor && strcmp(name, s->bad_shape_tensor) == 0)
        rows += 1;
    uint64_t st = tensor_stream(s->seed, name);
    if (s->q8_tensor && strcmp(name, s->q8_tensor) == 0) {
        add_q8(b, name, cols, rows, st);
        return;
    }
    size_t n = (size_t)cols * (size_t)rows;
    size_t esize = type == DL_TYPE_F32 ? 4 : 2;
    void *p = keep(b, n * esize);
    if (!p) {
        note(b, DIFFLM_E_NOMEM);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        float v = (float)(center + scale * normal01(&st));
        if (s->round_f16 && !is_vec)
            v = dl_f16_to_f32(dl_f32_to_f16(v));
        if (type == DL_TYPE_F32)
            ((float *)p)[i] = v;
        else if (type == DL_TYPE_F16)
            ((uint16_t *)p)[i] = dl_f32_to_f16(v);
        else
            ((uint16_t *)p)[i] = dl_f32_to_bf16(v);
    }
    int64_t ne[2] = { cols, rows };
    note(b, dl_gguf_w_tensor(b->w, name, type, is_vec && rows == 1 ? 1 : 2, ne, p));
}

/* GPT-2's byte -> code point map: printable Latin-1 bytes stand for themselves, the
 * rest are moved to 256, 257, ... in byte order. */
static uint32_t byte_codepoint(int byte) {
    int printable = (byte >= 33 && byte <= 126) || (byte >= 161 && byte <= 172) || byte >= 174;
    if (printable)
        return (uint32_t)byte;
    uint32_t k = 0;
    for (int c = 0; c < byte; c++)
        if (!((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || c >= 174))
            k++;
    return 256u + k;
}

static size_t utf8_put(char *out, uint32_t cp) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xc0 | (cp >> 6));   /* every code point here is below 0x800 */
    out[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
}

/* Vocabulary arrays. Strings point into `text` (kept) or into static storage. */
static int add_vocab(tiny_build *b, dl_err *err) {
    const dl_tiny_spec *s = b->s;
    int32_t V = s->n_vocab;
    dl_str *tok = keep(b, (size_t)V * sizeof *tok);
    int32_t *type = keep(b, (size_t)V * sizeof *type);
    dl_str *mrg = keep(b, (size_t)N_MERGES * sizeof *mrg);
    char *text = keep(b, (size_t)256 * 2 + (size_t)V * 24);   /* bytes, merges, fillers */
    if (!tok || !type || !mrg || !text)
        return dl_fail(err, DIFFLM_E_NOMEM, "vocabulary");
    char *tp = text;
    int32_t id = 0;
    for (; id < DL_TINY_N_SPECIAL; id++) {
        tok[id] = (dl_str){ k_specials[id], strlen(k_specials[id]) };
        type[id] = 3;   /* CONTROL */
    }
    for (int byte = 0; byte < 256; byte++, id++) {
        size_t n = utf8_put(tp, byte_codepoint(byte));
        tok[id] = (dl_str){ tp, n };
        type[id] = 1;   /* NORMAL, as in real gpt2 files */
        tp += n;
    }
    for (int32_t i = 0; i < N_MERGES; i++, id++) {
        const char *m = k_merges[i], *sp = strchr(m, ' ');
        size_t nl = (size_t)(sp - m), nr = strlen(sp + 1);
        int found_l = 0, found_r = 0;
        for (int32_t j = 0; j < id; j++) {
            found_l |= tok[j].n == nl && memcmp(tok[j].p, m, nl) == 0;
            found_r |= tok[j].n == nr && memcmp(tok[j].p, sp + 1, nr) == 0;
            if (tok[j].n == nl + nr && memcmp(tok[j].p, m, nl) == 0 &&
                memcmp(tok[j].p + nl, sp + 1, nr) == 0)
                return dl_fail(err, DIFFLM_E_INTERNAL, "merge '%s' repeats a token", m);
        }
        if (!found_l || !found_r)
            return dl_fail(err, DIFFLM_E_INTERNAL, "merge '%s' joins an unknown token", m);
        memcpy(tp, m, nl);
        memcpy(tp + nl, sp + 1, nr);
        tok[id] = (dl_str){ tp, nl + nr };
        type[id] = 1;
        tp += nl + nr;
        mrg[i] = (dl_str){ m, strlen(m) };
    }
    for (; id < V; id++) {
        int n = snprintf(tp, 24, "[PAD%d]", id);
        tok[id] = (dl_str){ tp, (uint64_t)n };
        type[id] = 5;   /* UNUSED */
        tp += n;
    }
    note(b, dl_gguf_w_str(b->w, "tokenizer.ggml.model", "gpt2"));
    note(b, dl_gguf_w_str(b->w, "tokenizer.ggml.pre",
                          s->arch == DIFFLM_ARCH_DREAM ? "qwen2" : "llama-bpe"));
    note(b, dl_gguf_w_arr(b->w, "tokenizer.ggml.tokens", DL_GGUF_STRING, tok, (uint64_t)V));
    note(b, dl_gguf_w_arr(b->w, "tokenizer.ggml.token_type", DL_GGUF_I32, type, (uint64_t)V));
    note(b, dl_gguf_w_arr(b->w, "tokenizer.ggml.merges", DL_GGUF_STRING, mrg, (uint64_t)N_MERGES));
    note(b, dl_gguf_w_u32(b->w, "tokenizer.ggml.bos_token_id", 0));
    note(b, dl_gguf_w_u32(b->w, "tokenizer.ggml.eos_token_id", 1));
    note(b, dl_gguf_w_u32(b->w, "tokenizer.ggml.padding_token_id", 1));
    note(b, dl_gguf_w_u32(b->w, "tokenizer.ggml.mask_token_id", (uint32_t)s->mask_id));
    note(b, dl_gguf_w_bool(b->w, "tokenizer.ggml.add_bos_token", s->arch != DIFFLM_ARCH_DREAM));
    return b->rc;
}

static int check_spec(const dl_tiny_spec *s, dl_err *err) {
    if (s->arch != DIFFLM_ARCH_LLADA && s->arch != DIFFLM_ARCH_DREAM)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "arch %d is neither llada nor dream", s->arch);
    const int32_t dims[] = { s->n_embd, s->n_layer, s->n_head, s->n_head_kv, s->n_ff, s->n_ctx };
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++)
        if (dims[i] < 1 || dims[i] > 65536)
            return dl_fail(err, DIFFLM_E_INVALID_ARG, "dimension %d out of range [1, 65536]",
                           dims[i]);
    if (s->n_embd % s->n_head || (s->n_embd / s->n_head) % 2)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "n_embd %d must be n_head %d times an even "
                       "head dimension", s->n_embd, s->n_head);
    if (s->n_head % s->n_head_kv)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "n_head %d is not a multiple of n_head_kv %d",
                       s->n_head, s->n_head_kv);
    if (s->n_vocab < dl_tiny_min_vocab() || s->n_vocab > (1 << 20))
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "vocab %d out of range [%d, %d]", s->n_vocab,
                       dl_tiny_min_vocab(), 1 << 20);
    if (s->mask_id < 0 || s->mask_id >= s->n_vocab)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "mask id %d outside the vocabulary", s->mask_id);
    if (s->wtype != DL_TYPE_F32 && s->wtype != DL_TYPE_F16 && s->wtype != DL_TYPE_BF16)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "matrix type %u is not F32, F16 or BF16", s->wtype);
    if (!(s->rope_theta > 1.0f) || !(s->eps > 0.0f))
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "rope theta %g / eps %g", (double)s->rope_theta,
                       (double)s->eps);
    return 0;
}

static int build(tiny_build *b, dl_err *err) {
    const dl_tiny_spec *s = b->s;
    const char *arch = s->arch_name ? s->arch_name : s->arch == DIFFLM_ARCH_DREAM ? "dream" : "llada";
    int64_t E = s->n_embd, hd = s->n_embd / s->n_head, F = s->n_ff, V = s->n_vocab;
    int64_t Dq = hd * s->n_head, Dkv = hd * s->n_head_kv;
    uint32_t ft = s->wtype == DL_TYPE_F16 ? 1 : s->wtype == DL_TYPE_BF16 ? 32 : 0;   /* llama ftype */
    char key[128], name[96];
    dl_gguf_writer *w = b->w;

    note(b, dl_gguf_w_str(w, "general.architecture", arch));
    snprintf(name, sizeof name, "difflm tiny %s", arch);
    note(b, dl_gguf_w_str(w, "general.name", name));
    note(b, dl_gguf_w_u32(w, "general.file_type", ft));
    if (s->q8_tensor)
        note(b, dl_gguf_w_u32(w, "general.quantization_version", 2));
#define K(suffix) (snprintf(key, sizeof key, "%s.%s", arch, suffix), key)
    note(b, dl_gguf_w_u32(w, K("context_length"), (uint32_t)s->n_ctx));
    note(b, dl_gguf_w_u32(w, K("embedding_length"), (uint32_t)E));
    note(b, dl_gguf_w_u32(w, K("block_count"), (uint32_t)s->n_layer));
    note(b, dl_gguf_w_u32(w, K("feed_forward_length"), (uint32_t)F));
    note(b, dl_gguf_w_u32(w, K("attention.head_count"), (uint32_t)s->n_head));
    note(b, dl_gguf_w_u32(w, K("attention.head_count_kv"), (uint32_t)s->n_head_kv));
    note(b, dl_gguf_w_f32(w, K("attention.layer_norm_rms_epsilon"), s->eps));
    note(b, dl_gguf_w_f32(w, K("rope.freq_base"), s->rope_theta));
    note(b, dl_gguf_w_u32(w, K("rope.dimension_count"), (uint32_t)hd));
    note(b, dl_gguf_w_u32(w, K("vocab_size"), (uint32_t)V));
    note(b, dl_gguf_w_bool(w, K("attention.causal"), 0));
#undef K
    if (s->shift_key)
        note(b, dl_gguf_w_bool(w, "diffusion.shift_logits", s->arch == DIFFLM_ARCH_DREAM));
    if (b->rc)
        return dl_fail(err, b->rc, "writing metadata");
    int rc = add_vocab(b, err);
    if (rc)
        return rc;

    /* Scales: matrices 1/sqrt(fan_in) keep activations near unit size; the embedding
     * and head at 2/sqrt(E) give logits a spread of about 2 from unit-rms hidden rows. */
    double head_scale = 2.0 / sqrt((double)E);
    add_tensor(b, "token_embd.weight", E, V, s->wtype, 0.0, head_scale);
    add_tensor(b, "output_norm.weight", E, 1, DL_TYPE_F32, 1.0, 0.1);
    if (!s->tied)
        add_tensor(b, "output.weight", E, V, s->wtype, 0.0, head_scale);
    if (s->output_bias)
        add_tensor(b, "output.bias", V, 1, DL_TYPE_F32, 0.0, 0.5);
    for (int il = 0; il < s->n_layer; il++) {
#define T(suffix) (snprintf(name, sizeof name, "blk.%d.%s", il, suffix), name)
        add_tensor(b, T("attn_norm.weight"), E, 1, DL_TYPE_F32, 1.0, 0.1);
        add_tensor(b, T("attn_q.weight"), E, Dq, s->wtype, 0.0, 1.0 / sqrt((double)E));
        add_tensor(b, T("attn_k.weight"), E, Dkv, s->wtype, 0.0, 1.0 / sqrt((double)E));
        add_tensor(b, T("attn_v.weight"), E, Dkv, s->wtype, 0.0, 1.0 / sqrt((double)E));
        if (s->arch == DIFFLM_ARCH_DREAM) {
            add_tensor(b, T("attn_q.bias"), Dq, 1, DL_TYPE_F32, 0.0, 0.5);
            add_tensor(b, T("attn_k.bias"), Dkv, 1, DL_TYPE_F32, 0.0, 0.5);
            add_tensor(b, T("attn_v.bias"), Dkv, 1, DL_TYPE_F32, 0.0, 0.5);
        }
        add_tensor(b, T("attn_output.weight"), Dq, E, s->wtype, 0.0, 1.0 / sqrt((double)Dq));
        add_tensor(b, T("ffn_norm.weight"), E, 1, DL_TYPE_F32, 1.0, 0.1);
        add_tensor(b, T("ffn_gate.weight"), E, F, s->wtype, 0.0, 1.0 / sqrt((double)E));
        add_tensor(b, T("ffn_up.weight"), E, F, s->wtype, 0.0, 1.0 / sqrt((double)E));
        add_tensor(b, T("ffn_down.weight"), F, E, s->wtype, 0.0, 1.0 / sqrt((double)F));
#undef T
    }
    if (b->rc)
        return dl_fail(err, b->rc, "adding tensors");
    return 0;
}

static void build_free(tiny_build *b) {
    for (size_t i = 0; i < b->n_bufs; i++)
        free(b->bufs[i]);
    free(b->bufs);
    dl_gguf_writer_free(b->w);
}

/* Builds and hands the writer to emit (to_buffer or write) before the borrowed tensor
 * bytes are released. */
static int build_and_emit(const dl_tiny_spec *s, const char *path, void **buf, size_t *n,
                          dl_err *err) {
    int rc = check_spec(s, err);
    if (rc)
        return rc;
    tiny_build b = { .s = s };
    b.w = dl_gguf_writer_new();
    if (!b.w)
        return dl_fail(err, DIFFLM_E_NOMEM, "gguf writer");
    rc = build(&b, err);
    if (!rc)
        rc = path ? dl_gguf_writer_write(b.w, path, err) : dl_gguf_writer_to_buffer(b.w, buf, n, err);
    build_free(&b);
    return rc;
}

int dl_tiny_to_buffer(const dl_tiny_spec *s, void **buf, size_t *n, dl_err *err) {
    *buf = NULL;
    *n = 0;
    return build_and_emit(s, NULL, buf, n, err);
}

int dl_tiny_write(const dl_tiny_spec *s, const char *path, dl_err *err) {
    return build_and_emit(s, path, NULL, NULL, err);
}
