/* jinja.h - a small interpreter for the Jinja subset that chat templates use
 * (doc/design.md, "Chat templates").
 *
 * A template is compiled once (lexer -> tokens -> AST) and rendered any number of times,
 * with the settings Hugging Face's apply_chat_template uses: trim_blocks and
 * lstrip_blocks on, keep_trailing_newline off, and the variables messages,
 * add_generation_prompt, bos_token, eos_token, tools = none and documents = none.
 * Whatever lies outside the subset (a filter, test, tag, method or global it does not
 * implement) fails with DIFFLM_E_UNSUPPORTED and a message naming it, at compile time
 * where the name is visible then, else when rendering reaches it: never with text
 * that differs from Jinja's. Every bound (source size, nesting, loop iterations,
 * evaluation steps, bytes allocated, output size) is checked, so a hostile template
 * fails in bounded time and memory. A compiled template is immutable: renders from
 * several threads at once are safe. */
#ifndef DL_JINJA_H
#define DL_JINJA_H

#include <stddef.h>

#include "core/core.h"
#include "difflm.h"

#define DL_JINJA_MAX_SOURCE (1u << 20)          /* template bytes */
#define DL_JINJA_MAX_DEPTH 200                  /* nesting of blocks and expressions */
#define DL_JINJA_MAX_ITERS 1000000u             /* loop iterations per render, all loops */
#define DL_JINJA_MAX_STEPS 50000000u            /* node evaluations per render */
#define DL_JINJA_MAX_ALLOC ((size_t)1 << 30)    /* bytes allocated per render, in total */
#define DL_JINJA_MAX_STRING ((size_t)16 << 20) /* bytes of one string value */
#define DL_JINJA_MAX_WORK ((uint64_t)64 << 20)  /* bytes of strings read per render by
                                                   lengths, comparisons, searches, strip,
                                                   split and case changes */
#define DL_JINJA_MAX_OUTPUT ((size_t)256 << 20) /* rendered bytes */

typedef struct dl_jinja dl_jinja;

/* Compiles src[0..n). Returns 0, E_UNSUPPORTED (a construct outside the subset, named
 * in the message), E_FORMAT (a syntax error, with its line), E_NOMEM. */
int dl_jinja_compile(dl_jinja **out, const char *src, size_t n, dl_err *err);
void dl_jinja_free(dl_jinja *j);   /* NULL is fine */

typedef struct dl_jinja_vars {
    const difflm_chat_message *msgs;   /* messages: a list of {role, content} */
    size_t n_msgs;
    int add_generation_prompt;
    const char *bos_token;             /* NULL: undefined, as in HF without one */
    const char *eos_token;
} dl_jinja_vars;

/* Renders into out[0..cap) (not NUL-terminated; bytes past cap are counted, not
 * written) and sets *n_out to the full length. Returns 0, E_INVALID_ARG (a template
 * error: raise_exception(msg) with msg, an undefined value used, a type error),
 * E_UNSUPPORTED, E_NOMEM (a bound of jinja.h exceeded, named in the message). */
int dl_jinja_render(const dl_jinja *j, const dl_jinja_vars *v, char *out, size_t cap,
                    size_t *n_out, dl_err *err);

#endif
