/* fuzz_vocab.h - the tokenizers the tokenizer and chat harnesses run on, loaded once per
 * process: the real Qwen2.5 / Dream vocabulary of tests/tok/data/tokenizers (151,665
 * tokens, 151,387 merges, ChatML), built the way tests/tok/test_tok_real.c builds it,
 * and the tiny models' vocabulary (tests/fixtures, Llama-3 chat headers). */
#ifndef FUZZ_VOCAB_H
#define FUZZ_VOCAB_H

#include "tok/tok.h"

/* The Qwen2.5 tokenizer; traps if the data cannot be read (the harness is useless
 * without it). The data is found through $DIFFLM_SRCDIR (the meson tests set it), else
 * the source tree this was built from. */
const dl_tok *fuzz_qwen_tok(void);
/* The tiny LLaDA model's tokenizer (Llama-3 chat style). */
const dl_tok *fuzz_tiny_tok(void);

#endif
