/* hf_folder.c - a GGUF test model rewritten as a Hugging Face folder (hf_folder.h). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hf_folder.h"
#include "hf_templates.h"
#include "difflm.h"
#include "kernels/kernels.h"
#include "model/arch.h"
#include "tok/tok.h"

/* The Split regexes of tokenizer.json for the GGUF pre-tokenizer names the fixtures use
 * (Llama-3's, Qwen2's and Ling's (LLaDA-MoE), as their tokenizer.json files spell them). */
static const char k_rx_llama3[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
    "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char k_rx_bailing[] =
    "'(?i:[sdmt]|ll|ve|re)|[^\\r\\n\\p{L}\\p{N}]?+\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]++[\\r\\n]*"
    "|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+";
static const char k_rx_qwen2[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
    "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

static const char *dtype_of(uint32_t type) {
    return type == DL_TYPE_F32 ? "F32" : type == DL_TYPE_F16 ? "F16" : type == DL_TYPE_BF16 ? "BF16" : NULL;
}

typedef struct entry {
    char name[160];
    const dl_gguf_tensor *t;
    int unpermute;              /* head dimension, or 0 */
    uint32_t out_type;          /* the type written: the GGUF's, or BF16 for a rounded F32 */
    size_t out_size;
} entry;

/* HF row r of a head of hd rows is GGUF row 2 (r % (hd/2)) + r / (hd/2). */
static void write_data(FILE *f, const entry *e) {
    const dl_gguf_tensor *t = e->t;
    int64_t rows = t->ne[1] * t->ne[2] * t->ne[3];
    size_t rb = t->size / (size_t)rows, cols = (size_t)t->ne[0];
    uint16_t *tmp = e->out_type != t->type ? malloc(cols * sizeof *tmp) : NULL;
    int hd = e->unpermute, half = hd / 2;
    for (int64_t r = 0; r < rows; r++) {
        int64_t src = r;
        if (hd) {
            int64_t head = r / hd, j = (r % hd) / half, i = r % half;
            src = head * hd + 2 * i + j;
        }
        const char *row = (const char *)t->data + (size_t)src * rb;
        if (!tmp) {
            fwrite(row, 1, rb, f);
            continue;
        }
        for (size_t k = 0; k < cols; k++) {   /* F32 -> BF16 */
            float v;
            memcpy(&v, row + 4 * k, 4);
            tmp[k] = dl_f32_to_bf16(v);
        }
        fwrite(tmp, 2, cols, f);
    }
    free(tmp);
}

static int write_st(const char *path, const entry *es, int n) {
    size_t cap = 65536 + (size_t)n * 256, hn = 0;
    char *hdr = malloc(cap);
    uint64_t off = 0;
    hn += (size_t)snprintf(hdr + hn, cap - hn, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (int i = 0; i < n; i++) {
        const dl_gguf_tensor *t = es[i].t;
        hn += (size_t)snprintf(hdr + hn, cap - hn, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", es[i].name,
                               dtype_of(es[i].out_type));
        for (int d = (int)t->n_dims - 1; d >= 0; d--)
            hn += (size_t)snprintf(hdr + hn, cap - hn, "%lld%s", (long long)t->ne[d], d ? "," : "");
        hn += (size_t)snprintf(hdr + hn, cap - hn, "],\"data_offsets\":[%llu,%llu]}",
                               (unsigned long long)off, (unsigned long long)(off + es[i].out_size));
        off += es[i].out_size;
    }
    hn += (size_t)snprintf(hdr + hn, cap - hn, "}");
    while (hn % 8)
        hdr[hn++] = ' ';
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(hdr);
        return -1;
    }
    uint8_t len[8];
    for (int k = 0; k < 8; k++)
        len[k] = (uint8_t)((uint64_t)hn >> (8 * k));
    fwrite(len, 1, 8, f);
    fwrite(hdr, 1, hn, f);
    for (int i = 0; i < n; i++)
        write_data(f, &es[i]);
    free(hdr);
    return fclose(f) == 0 ? 0 : -1;
}

static uint32_t u32(const dl_gguf *g, const char *k) {
    uint32_t v = 0;
    dl_gguf_get_u32(g, k, &v, NULL);
    return v;
}

static int dump(json_t *j, const char *dir, const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int rc = j && json_dump_file(j, path, JSON_INDENT(2) | JSON_ENSURE_ASCII) == 0 ? 0 : -1;
    if (rc)
        fprintf(stderr, "hf_folder: cannot write %s\n", path);
    json_decref(j);
    return rc;
}

static int write_text(const char *dir, const char *name, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0) {
        fprintf(stderr, "hf_folder: cannot write %s\n", path);
        if (f)
            fclose(f);
        return -1;
    }
    return fclose(f) == 0 ? 0 : -1;
}

static json_t *added_token(const char *content, int special) {
    return json_pack("{s:s,s:b,s:b,s:b,s:b,s:b}", "content", content, "lstrip", 0, "normalized", !special,
                     "rstrip", 0, "single_word", 0, "special", special);
}

static const char *tok_text(const dl_gguf *g, uint64_t i, char *buf, size_t cap) {
    dl_str t;
    dl_gguf_arr_str(g, "tokenizer.ggml.tokens", i, &t, NULL);
    snprintf(buf, cap, "%.*s", (int)t.n, t.p);
    return buf;
}

static int64_t tok_type(const dl_gguf *g, uint64_t i) {
    int64_t type = 0;
    dl_gguf_arr_i64(g, "tokenizer.ggml.token_type", i, &type, NULL);
    return type;
}

/* The tokenizer files: the NORMAL tokens as the BPE vocabulary, the CONTROL ones as
 * special added tokens, the UNUSED fillers left out (as real checkpoints leave their
 * padding rows without a token). */
static int write_tokenizer(const dl_gguf *g, const dl_arch *a, const char *dir, int published) {
    uint32_t et;
    uint64_t n, nm;
    if (dl_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &n, NULL) ||
        dl_gguf_get_arr(g, "tokenizer.ggml.merges", &et, &nm, NULL))
        return -1;
    dl_str pre = { 0 };
    dl_gguf_get_str(g, "tokenizer.ggml.pre", &pre, NULL);
    int qwen = pre.n == 5 && memcmp(pre.p, "qwen2", 5) == 0;
    int llama = pre.n == 9 && memcmp(pre.p, "llama-bpe", 9) == 0;
    int ling = pre.n == 9 && memcmp(pre.p, "llada-moe", 9) == 0;
    if (!qwen && !llama && !ling) {
        fprintf(stderr, "hf_folder: no tokenizer.json form for pre-tokenizer '%.*s'\n", (int)pre.n, pre.p);
        return -1;
    }
    char buf[256];
    json_t *vocab = json_object(), *added = json_array(), *merges = json_array(), *decoder = json_object();
    json_t *added_files = json_object();
    for (uint64_t i = 0; i < n; i++) {
        int64_t type = tok_type(g, i);
        const char *s = tok_text(g, i, buf, sizeof buf);
        if (type == DL_TOKT_NORMAL) {
            json_object_set_new(vocab, s, json_integer((json_int_t)i));
        } else if (type == DL_TOKT_CONTROL) {
            json_t *at = added_token(s, 1);
            json_object_set(decoder, (snprintf(buf + 128, 64, "%llu", (unsigned long long)i), buf + 128), at);
            json_t *withid = json_deep_copy(at);
            json_object_set_new(withid, "id", json_integer((json_int_t)i));
            json_array_append_new(added, withid);
            json_object_set_new(added_files, s, json_integer((json_int_t)i));
            json_decref(at);
        }
    }
    char *merges_txt = malloc(nm * 64 + 64);
    size_t mt = (size_t)sprintf(merges_txt, "#version: 0.2\n");
    for (uint64_t i = 0; i < nm; i++) {
        dl_str m;
        dl_gguf_arr_str(g, "tokenizer.ggml.merges", i, &m, NULL);
        json_array_append_new(merges, json_stringn(m.p, m.n));
        mt += (size_t)sprintf(merges_txt + mt, "%.*s\n", (int)m.n, m.p);
    }
    int add_bos = 0;
    dl_gguf_get_bool_opt(g, "tokenizer.ggml.add_bos_token", 0, &add_bos, NULL);
    const char *bos = tok_text(g, u32(g, "tokenizer.ggml.bos_token_id"), buf, 128);
    char eos[128], pad[128];
    tok_text(g, u32(g, "tokenizer.ggml.eos_token_id"), eos, sizeof eos);
    tok_text(g, u32(g, "tokenizer.ggml.padding_token_id"), pad, sizeof pad);
    int rc = 0;
    int slow = published && qwen;   /* Dream ships no tokenizer.json */
    if (!slow) {
        json_t *split = json_pack("{s:s,s:{s:s},s:s,s:b}", "type", "Split", "pattern", "Regex",
                                  llama ? k_rx_llama3 : ling ? k_rx_bailing : k_rx_qwen2, "behavior", "Isolated", "invert", 0);
        json_t *bl = json_pack("{s:s,s:b,s:b,s:b}", "type", "ByteLevel", "add_prefix_space", 0,
                               "trim_offsets", 1, "use_regex", 0);
        json_t *post = json_pack("{s:s,s:b,s:b,s:b}", "type", "ByteLevel", "add_prefix_space", 1,
                                 "trim_offsets", 0, "use_regex", 1);
        if (published && llama) {   /* Llama-3's form: the BOS in front, then the text */
            json_t *tp = json_pack("{s:s,s:[{s:{s:s,s:i}},{s:{s:s,s:i}}],s:[{s:{s:s,s:i}},{s:{s:s,s:i}}],"
                                   "s:{s:{s:s,s:[I],s:[s]}}}", "type", "TemplateProcessing",
                                   "single", "SpecialToken", "id", bos, "type_id", 0, "Sequence", "id", "A",
                                   "type_id", 0, "pair", "Sequence", "id", "A", "type_id", 0, "Sequence", "id",
                                   "B", "type_id", 1, "special_tokens", bos, "id", bos, "ids",
                                   (json_int_t)u32(g, "tokenizer.ggml.bos_token_id"), "tokens", bos);
            post = json_pack("{s:s,s:[o,o]}", "type", "Sequence", "processors", post, tp);
        }
        json_t *tj = json_pack("{s:s,s:n,s:n,s:o,s:o,s:{s:s,s:[o,o]},s:o,s:{s:s,s:b,s:b,s:b},"
                               "s:{s:s,s:n,s:n,s:n,s:n,s:b,s:b,s:b,s:o,s:o}}",
                               "version", "1.0", "truncation", "padding", "added_tokens", added,
                               "normalizer", qwen ? json_pack("{s:s}", "type", "NFC") : json_null(),
                               "pre_tokenizer", "type", "Sequence", "pretokenizers", split, bl,
                               "post_processor", post,
                               "decoder", "type", "ByteLevel", "add_prefix_space", 1, "trim_offsets", 1,
                               "use_regex", 1,
                               "model", "type", "BPE", "dropout", "unk_token", "continuing_subword_prefix",
                               "end_of_word_suffix", "fuse_unk", 0, "byte_fallback", 0, "ignore_merges", llama,
                               "vocab", vocab, "merges", merges);
        rc |= dump(tj, dir, "tokenizer.json");
        json_decref(added_files);
    } else {
        json_decref(added);
        json_decref(merges);
        rc |= dump(vocab, dir, "vocab.json");
        rc |= write_text(dir, "merges.txt", merges_txt);
        rc |= dump(added_files, dir, "added_tokens.json");
    }
    free(merges_txt);
    json_t *tc;
    if (!published) {
        json_decref(decoder);
        tc = json_pack("{s:b,s:b,s:s,s:s,s:s,s:s,s:b}", "add_bos_token", add_bos, "add_eos_token", 0,
                       "bos_token", bos, "eos_token", eos, "pad_token", pad,
                       "chat_template", "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
                       "{{ m['content'] }}<|im_end|>\n{% endfor %}",
                       "clean_up_tokenization_spaces", 0);
        return rc | dump(tc, dir, "tokenizer_config.json");
    }
    char mask[128];
    tok_text(g, u32(g, "tokenizer.ggml.mask_token_id"), mask, sizeof mask);
    if (llama) {
        tc = json_pack("{s:b,s:b,s:o,s:s,s:s,s:b,s:s,s:b,s:n,s:[s,s],s:f,s:s,s:s,s:b,s:n}",
                       "add_bos_token", 0, "add_eos_token", 0, "added_tokens_decoder", decoder,
                       "bos_token", bos, "chat_template", k_llada_template, "clean_up_tokenization_spaces", 0,
                       "eos_token", eos, "fast_tokenizer", 1, "merges_file", "model_input_names",
                       "input_ids", "attention_mask", "model_max_length", 1e30, "pad_token", pad,
                       "tokenizer_class", "PreTrainedTokenizerFast", "trust_remote_code", 1, "vocab_file");
        rc |= dump(tc, dir, "tokenizer_config.json");
        /* LLaDA's file writes model_max_length as the integer Python prints for 1e30 */
        char path[512];
        snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
        FILE *f = fopen(path, "rb");
        char *text = calloc(1, 1 << 20);
        size_t tn = f ? fread(text, 1, (1 << 20) - 64, f) : 0;
        if (f)
            fclose(f);
        char *at = strstr(text, "\"model_max_length\": ");
        if (!at) {
            rc = -1;
        } else {
            at += strlen("\"model_max_length\": ");
            char *end = strpbrk(at, ",\n}");
            char fixed[1 << 10];
            snprintf(fixed, sizeof fixed, "1000000000000000019884624838656");
            size_t tail = tn - (size_t)(end - text);
            char *out = malloc(tn + 64);
            size_t k = (size_t)(at - text);
            memcpy(out, text, k);
            memcpy(out + k, fixed, strlen(fixed));
            memcpy(out + k + strlen(fixed), end, tail);
            out[k + strlen(fixed) + tail] = '\0';
            rc |= write_text(dir, "tokenizer_config.json", out);
            free(out);
        }
        free(text);
        json_t *sm = json_pack("{s:[s],s:s,s:s,s:s}", "additional_special_tokens", mask, "bos_token", bos,
                               "eos_token", eos, "pad_token", pad);
        rc |= dump(sm, dir, "special_tokens_map.json");
    } else {
        (void)a;
        tc = json_pack("{s:b,s:b,s:o,s:[s],s:s,s:s,s:b,s:s,s:s,s:s,s:i,s:s,s:b,s:s,s:n}",
                       "add_bos_token", 0, "add_prefix_space", 0, "added_tokens_decoder", decoder,
                       "additional_special_tokens", mask, "bos_token", bos, "chat_template", k_dream_template,
                       "clean_up_tokenization_spaces", 0, "eos_token", eos, "errors", "replace",
                       "mask_token", mask, "model_max_length", 131072, "pad_token", pad,
                       "split_special_tokens", 0, "tokenizer_class", "DreamTokenizer", "unk_token");
        rc |= dump(tc, dir, "tokenizer_config.json");
        json_t *sm = json_pack("{s:[s],s:{s:s,s:b,s:b,s:b,s:b},s:{s:s,s:b,s:b,s:b,s:b},s:{s:s,s:b,s:b,s:b,s:b},"
                               "s:{s:s,s:b,s:b,s:b,s:b}}", "additional_special_tokens", mask,
                               "bos_token", "content", bos, "lstrip", 0, "normalized", 0, "rstrip", 0, "single_word", 0,
                               "eos_token", "content", eos, "lstrip", 0, "normalized", 0, "rstrip", 0, "single_word", 0,
                               "mask_token", "content", mask, "lstrip", 0, "normalized", 0, "rstrip", 0,
                               "single_word", 0,
                               "pad_token", "content", pad, "lstrip", 0, "normalized", 0, "rstrip", 0, "single_word", 0);
        rc |= dump(sm, dir, "special_tokens_map.json");
    }
    return rc;
}

/* The n experts of a 3-D GGUF tensor as n 2-D HF tensors: slices[e] is expert e's
 * {ne0, ne1} view, entered in es under its HF name. Returns n. */
static int hf_expert_slices(const dl_arch *a, dl_tensor_id t, int il, const dl_gguf_tensor *gt,
                            entry *es, int *n, dl_gguf_tensor *slices) {
    size_t per = gt->size / (size_t)gt->ne[2];
    for (int64_t e = 0; e < gt->ne[2]; e++) {
        dl_gguf_tensor *sl = &slices[e];
        *sl = *gt;
        sl->n_dims = 2;
        sl->ne[2] = 1;
        sl->size = per;
        sl->data = (const uint8_t *)gt->data + (size_t)e * per;
        dl_tensor_hf_expert_name(a, t, il, (int)e, es[*n].name, sizeof es[*n].name);
        es[*n].t = sl;
        es[*n].unpermute = 0;
        es[*n].out_type = gt->type;
        es[*n].out_size = per;
        (*n)++;
    }
    return (int)gt->ne[2];
}

/* config.json of LLaDA-MoE (LLaDAMoEConfig's keys). model_type "llada", as the
 * published checkpoints are reported to carry: the architectures entry must decide. */
static void hf_moe_config(FILE *f, const dl_gguf *g, const dl_arch *a, int tied, int V) {
    char key[128];
#define U(k) u32(g, dl_arch_key(a, k, key, sizeof key))
    float theta = 0, eps = 0;
    dl_gguf_get_f32(g, dl_arch_key(a, DL_KEY_ROPE_FREQ_BASE, key, sizeof key), &theta, NULL);
    dl_gguf_get_f32(g, dl_arch_key(a, DL_KEY_RMS_EPS, key, sizeof key), &eps, NULL);
    fprintf(f, "{\"architectures\":[\"LLaDAMoEModelLM\"],\"model_type\":\"llada\","
            "\"hidden_size\":%u,\"num_hidden_layers\":%u,\"num_attention_heads\":%u,"
            "\"num_key_value_heads\":%u,\"dense_intermediate_size\":%u,"
            "\"expert_intermediate_size\":%u,\"num_experts\":%u,\"num_experts_per_tok\":%u,"
            "\"max_position_embeddings\":%u,\"vocab_size\":%d,\"rope_theta\":%.9g,"
            "\"rms_norm_eps\":%.9g,\"tie_word_embeddings\":%s,\"qk_layernorm\":true,"
            "\"moe_router_score_function\":\"softmax\",\"router_num_group\":null,"
            "\"rope_scaling\":null,\"partial_rotary_factor\":1.0,\"eos_token_id\":1,"
            "\"pad_token_id\":1",
            U(DL_KEY_EMBEDDING_LENGTH), U(DL_KEY_BLOCK_COUNT), U(DL_KEY_HEAD_COUNT),
            U(DL_KEY_HEAD_COUNT_KV), U(DL_KEY_FEED_FORWARD_LENGTH),
            U(DL_KEY_EXPERT_FEED_FORWARD_LENGTH), U(DL_KEY_EXPERT_COUNT),
            U(DL_KEY_EXPERT_USED_COUNT), U(DL_KEY_CONTEXT_LENGTH), V, (double)theta,
            (double)eps, tied ? "true" : "false");
#undef U
}

static int write_folder(const dl_gguf *g, const char *dir, const hf_folder_opts *o, int published) {
    dl_str as;
    if (dl_gguf_get_str(g, "general.architecture", &as, NULL))
        return -1;
    const dl_arch *a = dl_arch_find(as.p, as.n);
    char key[128], path[512];
    uint32_t E = u32(g, dl_arch_key(a, DL_KEY_EMBEDDING_LENGTH, key, sizeof key));
    uint32_t nl = u32(g, dl_arch_key(a, DL_KEY_BLOCK_COUNT, key, sizeof key));
    uint32_t nh = u32(g, dl_arch_key(a, DL_KEY_HEAD_COUNT, key, sizeof key));
    uint32_t nkv = u32(g, dl_arch_key(a, DL_KEY_HEAD_COUNT_KV, key, sizeof key));
    uint32_t ff = u32(g, dl_arch_key(a, DL_KEY_FEED_FORWARD_LENGTH, key, sizeof key));
    uint32_t ctx = u32(g, dl_arch_key(a, DL_KEY_CONTEXT_LENGTH, key, sizeof key));
    float theta = 0, eps = 0;
    dl_gguf_get_f32(g, dl_arch_key(a, DL_KEY_ROPE_FREQ_BASE, key, sizeof key), &theta, NULL);
    dl_gguf_get_f32(g, dl_arch_key(a, DL_KEY_RMS_EPS, key, sizeof key), &eps, NULL);
    const dl_gguf_tensor *emb = dl_gguf_find_tensor(g, "token_embd.weight");
    int tied = dl_gguf_find_tensor(g, "output.weight") == NULL;
    int V = (int)emb->ne[1], hd = (int)(E / nh);

    /* tensors, in the row's order; a 3-D expert tensor becomes one HF tensor per expert */
    uint32_t n_exp = a->ffn == DL_FFN_MOE ? u32(g, dl_arch_key(a, DL_KEY_EXPERT_COUNT, key, sizeof key)) : 0;
    entry *es = calloc(DL_T_COUNT * (nl + 1) + 3 * (size_t)n_exp * nl, sizeof *es);
    dl_gguf_tensor *slices = calloc(3 * (size_t)n_exp * nl + 1, sizeof *slices);
    int n = 0, n_slices = 0;
    uint64_t total = 0;
    for (int il = -1; il < (int)nl; il++)
        for (int t = il < 0 ? 0 : DL_T_FIRST_LAYER; t < (il < 0 ? DL_T_FIRST_LAYER : DL_T_COUNT); t++) {
            char gname[160];
            const dl_gguf_tensor *gt = dl_gguf_find_tensor(g, dl_tensor_name((dl_tensor_id)t, il, gname, sizeof gname));
            if (!gt)
                continue;
            if (dl_tensor_desc_get((dl_tensor_id)t)->kind == DL_TK_EXPERTS) {
                n_slices += hf_expert_slices(a, (dl_tensor_id)t, il, gt, es, &n, slices + n_slices);
                total += gt->size;
                continue;
            }
            if (!dl_tensor_hf_name(a, (dl_tensor_id)t, il, es[n].name, sizeof es[n].name) || !dtype_of(gt->type)) {
                fprintf(stderr, "hf_folder: no HF form for %s\n", gname);
                free(es);
                free(slices);
                return -1;
            }
            es[n].t = gt;
            es[n].unpermute = a->qk_permuted && (t == DL_T_ATTN_Q || t == DL_T_ATTN_K) ? hd : 0;
            es[n].out_type = published && gt->type == DL_TYPE_F32 ? DL_TYPE_BF16 : gt->type;
            es[n].out_size = es[n].out_type == gt->type ? gt->size : gt->size / 2;
            total += es[n].out_size;
            n++;
        }
    int shards = o->shards > 1 ? o->shards : 1, rc = 0;
    int per = (n + shards - 1) / shards;
    FILE *ix = NULL;
    if (shards > 1) {
        snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
        ix = fopen(path, "w");
        fprintf(ix, "{\"metadata\":{\"total_size\":%llu},\"weight_map\":{", (unsigned long long)total);
    }
    for (int s = 0; s < shards && !rc; s++) {
        int i0 = s * per, i1 = i0 + per < n ? i0 + per : n;
        char fname[64];
        if (shards > 1)
            snprintf(fname, sizeof fname, "model-%05d-of-%05d.safetensors", s + 1, shards);
        else
            snprintf(fname, sizeof fname, "model.safetensors");
        snprintf(path, sizeof path, "%s/%s", dir, fname);
        rc = write_st(path, es + i0, i1 - i0);
        for (int i = i0; ix && i < i1; i++)
            fprintf(ix, "%s\"%s\":\"%s\"", i ? "," : "", es[i].name, fname);
    }
    if (ix) {
        fprintf(ix, "}}\n");
        fclose(ix);
    }
    free(es);
    free(slices);

    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    const char *dtype = published ? "bfloat16" : "float32";
    if (a->id == DIFFLM_ARCH_LLADA_MOE)
        hf_moe_config(f, g, a, tied, V);
    else if (a->id == DIFFLM_ARCH_LLADA)
        fprintf(f, "{\"architectures\":[\"LLaDAModelLM\"],\"model_type\":\"llada\",\"d_model\":%u,"
                "\"n_layers\":%u,\"n_heads\":%u,\"n_kv_heads\":%u,\"mlp_hidden_size\":%u,"
                "\"mlp_ratio\":4,\"max_sequence_length\":%u,\"vocab_size\":%d,\"embedding_size\":%d,"
                "\"rope\":true,\"rope_theta\":%.9g,\"rms_norm_eps\":%.9g,\"weight_tying\":%s,"
                "\"include_bias\":false,\"block_type\":\"llama\",\"activation_type\":\"silu\","
                "\"torch_dtype\":\"%s\",\"eos_token_id\":1,\"pad_token_id\":1",
                E, nl, nh, nkv, ff, ctx, V, V, (double)theta, (double)eps, tied ? "true" : "false", dtype);
    else
        fprintf(f, "{\"architectures\":[\"DreamModel\"],\"model_type\":\"Dream\",\"hidden_size\":%u,"
                "\"num_hidden_layers\":%u,\"num_attention_heads\":%u,\"num_key_value_heads\":%u,"
                "\"intermediate_size\":%u,\"max_position_embeddings\":%u,\"vocab_size\":%d,"
                "\"rope_theta\":%.9g,\"rms_norm_eps\":%.9g,\"tie_word_embeddings\":%s,"
                "\"rope_scaling\":null,\"hidden_act\":\"silu\",\"torch_dtype\":\"%s\","
                "\"bos_token_id\":%d,\"eos_token_id\":1",
                E, nl, nh, nkv, ff, ctx, V, (double)theta, (double)eps, tied ? "true" : "false", dtype,
                published ? 1 : 0);   /* Dream's config.json names its EOS as bos_token_id */
    if (o->mask_id >= 0)
        fprintf(f, ",\"mask_token_id\":%d", o->mask_id);
    fprintf(f, "}\n");
    fclose(f);
    if (o->eos_id >= 0) {
        snprintf(path, sizeof path, "%s/generation_config.json", dir);
        f = fopen(path, "w");
        if (published && a->id == DIFFLM_ARCH_LLADA)
            fprintf(f, "{\"_from_model_config\":true,\"bos_token_id\":0,\"eos_token_id\":%d,"
                    "\"transformers_version\":\"4.46.0\"}\n", o->eos_id);
        else if (published)
            fprintf(f, "{\"alg\":\"origin\",\"eps\":0.001,\"steps\":512,\"temperature\":0.0,"
                    "\"top_p\":null,\"top_k\":null,\"bos_token_id\":1,\"eos_token_id\":[%d,4],"
                    "\"pad_token_id\":1,\"transformers_version\":\"4.46.2\"}\n", o->eos_id);
        else
            fprintf(f, "{\"bos_token_id\":0,\"eos_token_id\":[%d,4],\"transformers_version\":\"4.46.0\"}\n",
                    o->eos_id);
        fclose(f);
    }
    if (!rc)
        rc = write_tokenizer(g, a, dir, published);
    return rc;
}

int hf_write_folder(const dl_gguf *g, const char *dir, const hf_folder_opts *o) {
    return write_folder(g, dir, o, 0);
}

int hf_write_published(const dl_gguf *g, const char *dir, const hf_folder_opts *o) {
    return write_folder(g, dir, o, 1);
}
