/* fuzz_chat.c - libFuzzer harness for chat formatting: arbitrary conversations (any
 * roles, any bytes as content, NULL fields, empty lists) rendered in ChatML (the real
 * Qwen2.5 vocabulary) and the Llama-3 format (the tiny models' vocabulary), then
 * tokenized with special-token parsing, as a host does with the result.
 *
 * Input: byte 0: bit 0 add_assistant, bit 1 the Llama-3 (tiny) vocabulary, bit 2 also
 * tokenize the result. The rest is split at NUL bytes into role, content, role,
 * content, ... (at most 64 messages); a role of one byte 0x01..0x03 is "system", "user",
 * "assistant", 0x04 "tool", 0x05 a NULL role, 0x06 a NULL content.
 * What must hold: a NULL field gives E_INVALID_ARG; otherwise the needed size reported
 * for a too-small buffer (room for the NUL included) is what the call writes, the
 * output is NUL-terminated at that size, ChatML carries every content verbatim, and the
 * text tokenizes to ids that detokenize back to it (to its NFC form with Qwen's vocabulary).
 *
 * Built by `meson setup -Dfuzz=true` (doc/testing.md "Fuzzing"); the plain build's
 * fuzz_chat_replay runs fuzz/corpus/chat as the test fuzz-chat. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_vocab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define MAX_MSGS 64
#define MAX_INPUT 16384

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fuzz_qwen_tok();
    fuzz_tiny_tok();
    return 0;
}

static void must(int cond) {
    if (!cond)
        __builtin_trap();
}

static void tokenize_back(const dl_tok *t, const char *text, size_t len) {
    dl_err err = {0};
    size_t need = 0;
    int rc = dl_tok_encode(t, text, len, DIFFLM_TOKENIZE_PARSE_SPECIAL, NULL, 0, &need, &err);
    must(rc == 0 || rc == DIFFLM_E_BUFFER_TOO_SMALL);
    int32_t *ids = malloc((need ? need : 1) * sizeof *ids);
    must(ids != NULL);
    size_t n = 0;
    must(dl_tok_encode(t, text, len, DIFFLM_TOKENIZE_PARSE_SPECIAL, ids, need, &n, &err) == 0);
    /* NFC composes combining marks (o + U+0303 -> o-tilde) and decomposes a few
     * characters: at most 3 times the bytes (Unicode's bound for NFC) */
    char *back = malloc(3 * len + 1);
    must(back != NULL);
    size_t m = 0;
    must(dl_tok_decode(t, ids, n, DIFFLM_DETOKENIZE_SPECIAL, back, 3 * len + 1, &m, &err) == 0);
    if (m != len || memcmp(back, text, len) != 0) {
        /* only Qwen's NFC normalization may change the text, and then the normalized text
         * comes back from its own ids (the same rule as fuzz_tok.c) */
        must(t == fuzz_qwen_tok());
        int32_t *again = malloc((n ? n : 1) * sizeof *again);
        must(again != NULL);
        size_t n2 = 0;
        must(dl_tok_encode(t, back, m, DIFFLM_TOKENIZE_PARSE_SPECIAL, again, n, &n2, &err) == 0 &&
             n2 == n && memcmp(again, ids, n * sizeof *ids) == 0);
        free(again);
    }
    free(back);
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > MAX_INPUT)
        return 0;
    const uint32_t mode = data[0];
    const dl_tok *t = (mode & 2) ? fuzz_tiny_tok() : fuzz_qwen_tok();
    /* NUL-terminated fields in a copy of the input */
    char *buf = malloc(size);
    must(buf != NULL);
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    char *fields[2 * MAX_MSGS];
    size_t n_fields = 0;
    for (char *p = buf; p < buf + size && n_fields < 2 * MAX_MSGS; p += strlen(p) + 1)
        fields[n_fields++] = p;
    difflm_chat_message msgs[MAX_MSGS];
    size_t n = n_fields / 2;
    int has_null = 0;
    static const char *const roles[] = {"system", "user", "assistant", "tool"};
    for (size_t i = 0; i < n; i++) {
        const char *role = fields[2 * i];
        msgs[i].content = fields[2 * i + 1];
        if (role[0] >= 1 && role[0] <= 4 && role[1] == '\0')
            role = roles[role[0] - 1];
        else if (role[0] == 5 && role[1] == '\0')
            role = NULL;
        else if (role[0] == 6 && role[1] == '\0')
            msgs[i].content = NULL;
        msgs[i].role = role;
        has_null |= !msgs[i].role || !msgs[i].content;
    }
    const int add_assistant = mode & 1;

    dl_err err = {0};
    size_t need = 0;
    int rc = dl_tok_chat(t, msgs, n, add_assistant, NULL, 0, &need, &err);
    if (has_null) {
        must(rc == DIFFLM_E_INVALID_ARG && err.msg[0] != '\0');
        free(buf);
        return 0;
    }
    must(rc == DIFFLM_E_BUFFER_TOO_SMALL);   /* cap 0 has no room even for the NUL */
    char *out = malloc(need + 1);
    must(out != NULL);
    size_t got = 0;
    if (need > 0)
        must(dl_tok_chat(t, msgs, n, add_assistant, out, need, &got, &err) ==
             DIFFLM_E_BUFFER_TOO_SMALL && got == need);
    must(dl_tok_chat(t, msgs, n, add_assistant, out, need + 1, &got, &err) == 0 && got == need);
    must(out[need] == '\0' && strlen(out) == need);
    if (!(mode & 2))
        for (size_t i = 0; i < n; i++)
            must(strstr(out, msgs[i].content) != NULL);
    if (mode & 4)
        tokenize_back(t, out, need);
    free(out);
    free(buf);
    return 0;
}
