/* tok.h - byte-level BPE tokenizer (GGUF "gpt2" model) with pre-tokenizer rules and
 * chat formatting. Loaded from a GGUF file's tokenizer.* keys; owns copies of
 * everything it needs (the dl_gguf may be closed afterwards). */
#ifndef DL_TOK_H
#define DL_TOK_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "difflm.h"
#include "fmt/gguf.h"

/* GGUF tokenizer.ggml.token_type values. */
enum dl_tok_type {
    DL_TOKT_NORMAL = 1, DL_TOKT_UNKNOWN = 2, DL_TOKT_CONTROL = 3,
    DL_TOKT_USER_DEFINED = 4, DL_TOKT_UNUSED = 5, DL_TOKT_BYTE = 6,
};

enum dl_chat_style {
    DL_CHAT_NONE = 0,
    DL_CHAT_LLAMA3 = 1,         /* LLaDA-Instruct: <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|> */
    DL_CHAT_CHATML = 2,         /* Dream / Qwen: <|im_start|>role\n...<|im_end|>\n */
};

typedef struct dl_tok_special {
    int32_t bos, eos, eot, mask, pad;  /* -1 where absent */
    int32_t add_bos;                   /* tokenizer.ggml.add_bos_token */
} dl_tok_special;

typedef struct dl_tok dl_tok;

/* Builds the tokenizer from the file. Fails with E_FORMAT (missing or inconsistent
 * keys, naming them) or E_UNSUPPORTED (a tokenizer model other than gpt2, or an unknown
 * pre-tokenizer name, naming it). */
int dl_tok_load(dl_tok **out, const dl_gguf *g, dl_err *err);
void dl_tok_free(dl_tok *t);   /* NULL is fine */

int32_t dl_tok_n_vocab(const dl_tok *t);
const dl_tok_special *dl_tok_specials(const dl_tok *t);
int dl_tok_chat_style(const dl_tok *t);   /* enum dl_chat_style, from the vocabulary */

/* Text (any bytes, invalid UTF-8 included) to ids. flags: DIFFLM_TOKENIZE_*.
 * Returns 0, DIFFLM_E_BUFFER_TOO_SMALL (*n_out = needed), or E_NOMEM. */
int dl_tok_encode(const dl_tok *t, const char *text, size_t len, uint32_t flags,
                  int32_t *out, size_t cap, size_t *n_out, dl_err *err);

/* Ids to bytes. flags: DIFFLM_DETOKENIZE_SPECIAL renders control tokens (otherwise they
 * are skipped). Returns 0, E_BUFFER_TOO_SMALL (*n_out = needed), E_INVALID_ARG (bad id). */
int dl_tok_decode(const dl_tok *t, const int32_t *ids, size_t n, uint32_t flags,
                  char *out, size_t cap, size_t *n_out, dl_err *err);

/* Sets the Jinja chat template dl_tok_chat renders with (src[0..n), a copy is compiled;
 * NULL removes it, back to the vocabulary's chat style). GGUF's tokenizer.chat_template
 * is set by dl_tok_load; a Hugging Face folder's loader passes tokenizer_config.json's
 * "chat_template" (a string, or of a list of {name, template} the one named "default",
 * as transformers picks it). Returns 0, or the compile status (E_UNSUPPORTED,
 * E_FORMAT, E_NOMEM) with its message; the template then stays set as failed, and
 * dl_tok_chat returns that status and message rather than render another format. */
int dl_tok_set_chat_template(dl_tok *t, const char *src, size_t n, dl_err *err);

/* Renders a conversation with the chat template (see dl_tok_set_chat_template;
 * add_assistant is its add_generation_prompt, bos_token and eos_token the texts of
 * the BOS and EOS tokens) or, without one, in the tokenizer's chat style. Output NUL-terminated when it
 * fits (*n_out excludes the NUL). Returns 0, E_BUFFER_TOO_SMALL, E_INVALID_ARG,
 * E_UNSUPPORTED (no chat style, or the template's), E_INVALID_ARG (also a template's
 * raise_exception), E_NOMEM. */
int dl_tok_chat(const dl_tok *t, const difflm_chat_message *msgs, size_t n, int add_assistant,
                char *out, size_t cap, size_t *n_out, dl_err *err);

#endif
