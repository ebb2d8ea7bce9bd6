/* fuzz_jinja.c - libFuzzer harness for the chat-template interpreter (lib/tok/jinja_*.c):
 * arbitrary template text compiled (dl_jinja_compile) and rendered (dl_jinja_render)
 * with a fixed conversation or one taken from the input. Any template must compile or
 * fail with a status and a message; a compiled one must render or fail the same way, in
 * bounded time and memory (jinja.h's bounds: loops, steps, nesting, bytes allocated and
 * written; a template that runs away is a bug of the interpreter, not of the input).
 * What must hold for a render: the length it reports is the same for every buffer size
 * (none, a small bounded one, the exact size), nothing is written past the buffer, the
 * bytes a short buffer gets are the full text's first bytes, and two renders of the same
 * compiled template give the same text (a compiled template is immutable).
 *
 * Input: byte 0: bit 0 add_generation_prompt, bit 1 bos_token / eos_token defined,
 * bit 2 the conversation from the input; then the template up to the first NUL byte, then
 * (bit 2) NUL-separated role, content, role, content, ... (at most 16 messages).
 *
 * Built by `meson setup -Dfuzz=true` (doc/testing.md "Fuzzing"); the plain build's
 * fuzz_jinja_replay runs fuzz/corpus/jinja as the test fuzz-jinja. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tok/jinja.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT 65536
#define MAX_MSGS 16
#define SMALL_CAP 256                  /* the bounded buffer */
#define MAX_FULL ((size_t)4 << 20)     /* full renders compared up to this size */

static void must(int cond) {
    if (!cond)
        __builtin_trap();
}

static void check_fail(int rc, const dl_err *err) {
    must(rc < 0 && err->msg[0] != '\0' && err->status == rc);
}

static const difflm_chat_message k_fixed[] = {
    { "system", "You are a helpful assistant." },
    { "user", "Hello! What is 2 + 2?" },
    { "assistant", "2 + 2 = 4." },
    { "user", "And in Python: print(2 ** 10)\n" },
};

static void render(const dl_jinja *j, const dl_jinja_vars *v) {
    dl_err err = {0};
    size_t need = 0;
    int rc = dl_jinja_render(j, v, NULL, 0, &need, &err);
    if (rc != 0) {
        check_fail(rc, &err);
        return;
    }
    /* a small buffer with a guard after it */
    char small[SMALL_CAP + 16];
    memset(small, 0x5a, sizeof small);
    size_t got = 0;
    must(dl_jinja_render(j, v, small, SMALL_CAP, &got, &err) == 0 && got == need);
    for (size_t i = SMALL_CAP; i < sizeof small; i++)
        must(small[i] == 0x5a);
    if (need > MAX_FULL)
        return;
    char *full = malloc(need ? need : 1);
    must(full != NULL);
    must(dl_jinja_render(j, v, full, need, &got, &err) == 0 && got == need);
    size_t pre = need < SMALL_CAP ? need : SMALL_CAP;
    must(memcmp(full, small, pre) == 0);
    free(full);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > MAX_INPUT)
        return 0;
    const uint32_t mode = data[0];
    const uint8_t *src = data + 1, *end = data + size;
    const uint8_t *nul = memchr(src, 0, (size_t)(end - src));
    size_t n = (size_t)((nul ? nul : end) - src);
    /* the template in an exact-size copy, so a read past its end is ASan's to see */
    char *tpl = malloc(n ? n : 1);
    must(tpl != NULL);
    memcpy(tpl, src, n);

    /* the conversation: NUL-terminated fields in a copy of the rest */
    size_t rest = nul ? (size_t)(end - nul - 1) : 0;
    char *buf = malloc(rest + 1);
    must(buf != NULL);
    if (rest)
        memcpy(buf, nul + 1, rest);
    buf[rest] = '\0';
    difflm_chat_message msgs[MAX_MSGS];
    size_t n_msgs = 0;
    if (mode & 4) {
        char *p = buf, *bend = buf + rest;
        while (n_msgs < MAX_MSGS && p < bend) {
            char *role = p;
            p += strlen(p) + 1;
            if (p > bend)
                break;
            msgs[n_msgs].role = role;
            msgs[n_msgs].content = p;
            n_msgs++;
            p += strlen(p) + 1;
        }
    }
    dl_jinja_vars v = {
        .msgs = (mode & 4) ? msgs : k_fixed,
        .n_msgs = (mode & 4) ? n_msgs : sizeof k_fixed / sizeof k_fixed[0],
        .add_generation_prompt = mode & 1,
        .bos_token = (mode & 2) ? "<|startoftext|>" : NULL,
        .eos_token = (mode & 2) ? "<|endoftext|>" : NULL,
    };

    dl_jinja *j = NULL;
    dl_err err = {0};
    int rc = dl_jinja_compile(&j, tpl, n, &err);
    if (rc == 0) {
        must(j != NULL);
        render(j, &v);
    } else {
        must(j == NULL);
        check_fail(rc, &err);
    }
    dl_jinja_free(j);
    free(buf);
    free(tpl);
    return 0;
}
