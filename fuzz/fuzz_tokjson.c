/* fuzz_tokjson.c - libFuzzer harness for the Hugging Face tokenizer loader
 * (dl_tok_load_hf_mem, the reader of dl_tok_load_hf over files in memory):
 * tokenizer.json (vocabulary, merges, added tokens, normalizer, pre-tokenizer,
 * post-processor, decoder), the slow files (vocab.json, merges.txt, added_tokens.json),
 * tokenizer_config.json and special_tokens_map.json. Any bytes must either fail with a
 * status and a message and no tokenizer, or load one that then tokenizes and
 * detokenizes the texts at the input's tail: every id inside the vocabulary, the needed
 * size a too-small buffer reports is what the full call writes, detokenizing never fails
 * on the ids tokenizing gave, and the special ids are inside the vocabulary. Every id
 * of the vocabulary is detokenized once too. The load runs under a host allocator that
 * traps on a single block more than 64 times the input (+ 1 MiB), as fuzz_gguf's: what a
 * file makes the library allocate must be in proportion to what it holds.
 *
 * Input: byte 0: bit 0 the slow layout; then fields separated by NUL bytes (JSON text
 * and merges.txt have none), an empty field being an absent file:
 *   fast: tokenizer.json, tokenizer_config.json, special_tokens_map.json, texts...
 *   slow: vocab.json, merges.txt, added_tokens.json, tokenizer_config.json, texts...
 * At most 4 texts.
 *
 * Built by `meson setup -Dfuzz=true` (doc/testing.md "Fuzzing"); the plain build's
 * fuzz_tokjson_replay runs fuzz/corpus/tokjson as the test fuzz-tokjson. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tok/tok.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT (1 << 20)
#define MAX_TEXTS 4

static void must(int cond) {
    if (!cond)
        __builtin_trap();
}

static void check_fail(int rc, const dl_err *err) {
    must(rc < 0 && err->msg[0] != '\0' && err->status == rc);
}

static size_t alloc_limit;

static void *bounded_alloc(size_t size, size_t align, void *user) {
    (void)user;
    if (size > alloc_limit)
        __builtin_trap();
    void *p = NULL;
    return posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size) == 0 ? p
                                                                                        : NULL;
}

static void bounded_free(void *p, void *user) {
    (void)user;
    free(p);
}

/* Detokenizes ids[0..n) into a buffer of the needed size; returns the bytes' count. */
static size_t decode(const dl_tok *t, const int32_t *ids, size_t n, uint32_t flags) {
    dl_err err = {0};
    size_t need = 0;
    int rc = dl_tok_decode(t, ids, n, flags, NULL, 0, &need, &err);
    must(rc == 0 ? need == 0 : rc == DIFFLM_E_BUFFER_TOO_SMALL && need > 0);
    char *out = malloc(need ? need : 1);
    must(out != NULL);
    size_t got = 0;
    must(dl_tok_decode(t, ids, n, flags, out, need, &got, &err) == 0 && got == need);
    free(out);
    return got;
}

static void tokenize(const dl_tok *t, const char *text, size_t len, uint32_t flags) {
    dl_err err = {0};
    size_t need = 0;
    int32_t probe[4];
    int rc = dl_tok_encode(t, text, len, flags, probe, 4, &need, &err);
    must(rc == 0 ? need <= 4 : rc == DIFFLM_E_BUFFER_TOO_SMALL && need > 4);
    int32_t *ids = malloc((need ? need : 1) * sizeof *ids);
    must(ids != NULL);
    size_t n = 0;
    must(dl_tok_encode(t, text, len, flags, ids, need, &n, &err) == 0 && n == need);
    if (rc == 0)
        must(memcmp(ids, probe, n * sizeof *ids) == 0);
    for (size_t i = 0; i < n; i++)
        must(ids[i] >= 0 && ids[i] < dl_tok_n_vocab(t));
    decode(t, ids, n, 0);
    decode(t, ids, n, DIFFLM_DETOKENIZE_SPECIAL);
    free(ids);
}

static void use(const dl_tok *t, char *const *texts, const size_t *lens, size_t n_texts) {
    const int32_t nv = dl_tok_n_vocab(t);
    must(nv > 0);
    const dl_tok_special *sp = dl_tok_specials(t);
    const int32_t ids[] = { sp->bos, sp->eos, sp->pad, sp->mask };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        must(ids[i] >= -1 && ids[i] < nv);
    for (size_t i = 0; i < n_texts; i++) {
        tokenize(t, texts[i], lens[i], 0);
        tokenize(t, texts[i], lens[i], DIFFLM_TOKENIZE_PARSE_SPECIAL | DIFFLM_TOKENIZE_ADD_BOS);
    }
    /* every id, in chunks */
    int32_t chunk[256];
    for (int32_t id0 = 0; id0 < nv; id0 += 256) {
        size_t m = 0;
        for (int32_t id = id0; id < nv && m < 256; id++)
            chunk[m++] = id;
        decode(t, chunk, m, DIFFLM_DETOKENIZE_SPECIAL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > MAX_INPUT)
        return 0;
    static const char *const fast[] = { "tokenizer.json", "tokenizer_config.json",
                                        "special_tokens_map.json" };
    static const char *const slow[] = { "vocab.json", "merges.txt", "added_tokens.json",
                                        "tokenizer_config.json" };
    const int is_slow = data[0] & 1;
    const char *const *names = is_slow ? slow : fast;
    const size_t n_names = is_slow ? 4 : 3;
    /* each field in an exact-size copy, so a read past its end is ASan's to see */
    char *fields[4 + MAX_TEXTS];
    size_t lens[4 + MAX_TEXTS], n_fields = 0;
    const uint8_t *p = data + 1, *end = data + size;
    while (n_fields < n_names + MAX_TEXTS) {
        const uint8_t *nul = memchr(p, 0, (size_t)(end - p));
        size_t len = (size_t)((nul ? nul : end) - p);
        fields[n_fields] = malloc(len ? len : 1);
        must(fields[n_fields] != NULL);
        memcpy(fields[n_fields], p, len);
        lens[n_fields++] = len;
        if (!nul)
            break;
        p = nul + 1;
    }
    dl_tok_hf_file files[4];
    size_t n_files = 0;
    for (size_t i = 0; i < n_names && i < n_fields; i++)
        if (lens[i] > 0)
            files[n_files++] = (dl_tok_hf_file){ names[i], fields[i], lens[i] };

    alloc_limit = 64 * size + ((size_t)1 << 20);
    const dl_mem mem = { bounded_alloc, bounded_free, NULL };
    const dl_mem *prev = dl_mem_enter(&mem);
    dl_tok *t = NULL;
    dl_err err = {0};
    int rc = dl_tok_load_hf_mem(&t, files, n_files, &err);
    if (rc == 0) {
        must(t != NULL);
        size_t n_texts = n_fields > n_names ? n_fields - n_names : 0;
        use(t, fields + n_names, lens + n_names, n_texts);
    } else {
        must(t == NULL);
        check_fail(rc, &err);
    }
    dl_tok_free(t);
    dl_mem_leave(prev);
    for (size_t i = 0; i < n_fields; i++)
        free(fields[i]);
    return 0;
}
