/* tok.h - byte-level BPE tokenizer with Hugging Face's semantics (normalizer,
 * pre-tokenizer steps, added tokens, post-processor) and chat formatting. Loaded from a
 * GGUF file's tokenizer.* keys or from a Hugging Face model folder; owns copies of
 * everything it needs (the dl_gguf or the files may be closed afterwards). */
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

/* In a dl_tok_special given to dl_tok_set_specials: leave this field as loaded. */
#define DL_TOK_KEEP (-2)

/* Builds the tokenizer from the file. Fails with E_FORMAT (missing or inconsistent
 * keys, naming them) or E_UNSUPPORTED (a tokenizer model other than gpt2, or an unknown
 * pre-tokenizer name, naming it). */
int dl_tok_load(dl_tok **out, const dl_gguf *g, dl_err *err);
void dl_tok_free(dl_tok *t);   /* NULL is fine */

/* Builds the tokenizer from a Hugging Face model folder `dir` (doc/formats.md,
 * "Tokenizer files"): tokenizer.json when present, else the slow-tokenizer files
 * vocab.json + merges.txt (+ added_tokens.json); then tokenizer_config.json
 * (bos/eos/pad/unk/mask tokens, add_bos_token, added_tokens_decoder, chat_template as
 * dl_tok_set_chat_template describes it) and special_tokens_map.json, both optional
 * (numbers in them are read as doubles: model_max_length may exceed 64 bits). The
 * result behaves as a GGUF-loaded one (the
 * same ids for the same vocabulary). mask is set only from a mask_token entry; eot is
 * <|eot_id|> or <|im_end|> when the vocabulary has one. Fails with E_IO (a file that
 * exists but cannot be read; a folder with neither tokenizer.json nor vocab.json),
 * E_FORMAT (malformed JSON or fields, naming the file and field), E_UNSUPPORTED (a
 * model, normalizer, pre-tokenizer, post-processor or decoder type it does not
 * implement, naming it), E_NOMEM. Thread-safe (no shared state). */
int dl_tok_load_hf(dl_tok **out, const char *dir, dl_err *err);

/* One file of an in-memory folder: name as in the folder ("tokenizer.json"), size bytes
 * of data (not copied; only read during the call). */
typedef struct dl_tok_hf_file {
    const char *name;
    const void *data;
    size_t size;
} dl_tok_hf_file;
/* dl_tok_load_hf over files[0..n_files) instead of a folder: the same reader, with the
 * files found by name (any file not listed is absent); messages name them
 * "<memory>/NAME". For tests and fuzzing. */
int dl_tok_load_hf_mem(dl_tok **out, const dl_tok_hf_file *files, size_t n_files, dl_err *err);

/* Overrides the special ids after loading, e.g. from config.json / generation_config.json
 * (whose ids win over the tokenizer files' in transformers). Each field of sp that is
 * DL_TOK_KEEP keeps the loaded value; -1 means "none"; add_bos is 0, 1 or DL_TOK_KEEP.
 * Nothing changes unless every field is valid. Returns 0 or E_INVALID_ARG (an id outside
 * the vocabulary). Not thread-safe against concurrent use of t. */
int dl_tok_set_specials(dl_tok *t, const dl_tok_special *sp, dl_err *err);
/* A dl_tok_special with every field DL_TOK_KEEP, to fill in before dl_tok_set_specials. */
static inline dl_tok_special dl_tok_special_keep(void) {
    return (dl_tok_special){DL_TOK_KEEP, DL_TOK_KEEP, DL_TOK_KEEP, DL_TOK_KEEP, DL_TOK_KEEP, DL_TOK_KEEP};
}

int32_t dl_tok_n_vocab(const dl_tok *t);
/* Ids dl_tok_decode accepts: dl_tok_n_vocab, or more after dl_tok_set_n_ids. A model
 * folder's embedding may have rows past its tokenizer's last id (Dream's 152064 over
 * 151667 tokens): the reference samplers' argmax runs over every row, so those ids can be
 * generated, and they decode to nothing, as Hugging Face's decode skips an id no token
 * names. E_INVALID_ARG when n is below dl_tok_n_vocab. */
int32_t dl_tok_n_ids(const dl_tok *t);
int dl_tok_set_n_ids(dl_tok *t, int32_t n, dl_err *err);
const dl_tok_special *dl_tok_specials(const dl_tok *t);
int dl_tok_chat_style(const dl_tok *t);   /* enum dl_chat_style, from the vocabulary */

/* Text (any bytes, invalid UTF-8 included) to ids. flags: DIFFLM_TOKENIZE_*.
 * Added tokens that are not special (user-defined) are always matched in the text, as
 * Hugging Face does; special (control) ones only with DIFFLM_TOKENIZE_PARSE_SPECIAL.
 * DIFFLM_TOKENIZE_ADD_BOS adds the post-processor's tokens (TemplateProcessing), else
 * the BOS token when there is one.
 * Returns 0, DIFFLM_E_BUFFER_TOO_SMALL (*n_out = needed), or E_NOMEM. */
int dl_tok_encode(const dl_tok *t, const char *text, size_t len, uint32_t flags,
                  int32_t *out, size_t cap, size_t *n_out, dl_err *err);

/* Ids to bytes. flags: DIFFLM_DETOKENIZE_SPECIAL renders control tokens (otherwise they
 * are skipped). Returns 0, E_BUFFER_TOO_SMALL (*n_out = needed), E_INVALID_ARG (bad id). */
int dl_tok_decode(const dl_tok *t, const int32_t *ids, size_t n, uint32_t flags,
                  char *out, size_t cap, size_t *n_out, dl_err *err);

/* Sets the Jinja chat template dl_tok_chat renders with (src[0..n), a copy is compiled;
 * NULL removes it, back to the vocabulary's chat style). GGUF's tokenizer.chat_template
 * is set by dl_tok_load, tokenizer_config.json's "chat_template" by dl_tok_load_hf (a
 * string, or of a list of {name, template} the one named "default", as transformers picks
 * it; a list without "default" leaves dl_tok_chat failing with E_UNSUPPORTED). Returns 0, or the compile status (E_UNSUPPORTED,
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
