/* hf_folder.h - writes a Hugging Face model folder (config.json, generation_config.json,
 * safetensors, optionally sharded, tokenizer files) holding exactly the weights of a GGUF
 * test model (tests/fixtures/model_tiny.c): the row's HF tensor names, HF shapes, and for
 * LLaDA the q/k rows put back in the checkpoint's order (the inverse of llama.cpp's
 * permutation), so loading the folder must give the GGUF's logits.
 *
 * The tokenizer files say what the GGUF's tokenizer keys say, in Hugging Face's terms:
 * tokenizer.json's pre_tokenizer is a Split with the regex of the GGUF's
 * tokenizer.ggml.pre (llama-bpe: Llama-3's, with ignore_merges; qwen2: Qwen2's after an
 * NFC normalizer) then a regex-free ByteLevel, so the folder and the GGUF tokenize alike. */
#ifndef DL_HF_FOLDER_H
#define DL_HF_FOLDER_H

#include "fmt/gguf.h"

typedef struct hf_folder_opts {
    int shards;                 /* 0/1: model.safetensors; n > 1: n shards + index */
    int mask_id;                /* config.json mask_token_id (-1: left out) */
    int eos_id;                 /* generation_config.json eos_token_id (-1: no file) */
} hf_folder_opts;

/* Returns 0, or -1 with a message on stderr. dir must exist. The fixture layout:
 * tokenizer.json, a tokenizer_config.json with a short ChatML template and the GGUF's
 * add_bos_token, tensors in the GGUF's types. */
int hf_write_folder(const dl_gguf *g, const char *dir, const hf_folder_opts *o);

/* The same weights in the layout of the row's published checkpoint. LLaDA
 * (LLaDA-8B-Instruct; iLLaDA-8B-Instruct alike): tokenizer.json with a TemplateProcessing
 * BOS, tokenizer_config.json with its added_tokens_decoder, add_bos_token false,
 * model_max_length 10^30 (an integer) and LLaDA's chat template, special_tokens_map.json,
 * generation_config.json with a single eos_token_id. Dream (Dream-v0-Instruct-7B): the
 * slow files only (vocab.json, merges.txt, added_tokens.json, tokenizer_config.json with
 * tokenizer_class DreamTokenizer and Dream's template, special_tokens_map.json), an
 * eos_token_id list. Either way every tensor is BF16, the GGUF's F32 ones rounded to
 * nearest even (round those in the GGUF first to compare bit for bit). */
int hf_write_published(const dl_gguf *g, const char *dir, const hf_folder_opts *o);

#endif
