/* hf_folder.c - a GGUF test model rewritten as a Hugging Face folder (hf_folder.h). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hf_folder.h"
#include "difflm.h"
#include "model/arch.h"

static const char *dtype_of(uint32_t type) {
    return type == DL_TYPE_F32 ? "F32" : type == DL_TYPE_F16 ? "F16" : type == DL_TYPE_BF16 ? "BF16" : NULL;
}

typedef struct entry {
    char name[160];
    const dl_gguf_tensor *t;
    int unpermute;              /* head dimension, or 0 */
} entry;

/* HF row r of a head of hd rows is GGUF row 2 (r % (hd/2)) + r / (hd/2). */
static void write_data(FILE *f, const entry *e) {
    const dl_gguf_tensor *t = e->t;
    if (!e->unpermute) {
        fwrite(t->data, 1, t->size, f);
        return;
    }
    size_t rb = t->size / (size_t)t->ne[1];
    int hd = e->unpermute, half = hd / 2;
    for (int64_t r = 0; r < t->ne[1]; r++) {
        int64_t head = r / hd, j = (r % hd) / half, i = r % half;
        fwrite((const char *)t->data + (size_t)(head * hd + 2 * i + j) * rb, 1, rb, f);
    }
}

static int write_st(const char *path, const entry *es, int n) {
    char *hdr = malloc(65536);
    size_t hn = 0;
    uint64_t off = 0;
    hn += (size_t)snprintf(hdr + hn, 65536 - hn, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (int i = 0; i < n; i++) {
        const dl_gguf_tensor *t = es[i].t;
        hn += (size_t)snprintf(hdr + hn, 65536 - hn, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", es[i].name,
                               dtype_of(t->type));
        for (int d = (int)t->n_dims - 1; d >= 0; d--)
            hn += (size_t)snprintf(hdr + hn, 65536 - hn, "%lld%s", (long long)t->ne[d], d ? "," : "");
        hn += (size_t)snprintf(hdr + hn, 65536 - hn, "],\"data_offsets\":[%llu,%llu]}",
                               (unsigned long long)off, (unsigned long long)(off + t->size));
        off += t->size;
    }
    hn += (size_t)snprintf(hdr + hn, 65536 - hn, "}");
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

/* tokenizer.json (byte-level BPE: the NORMAL tokens as model.vocab, the CONTROL ones
 * as special added tokens, UNUSED fillers left out as real checkpoints do) and a
 * tokenizer_config.json naming the specials and a chat template. */
static int write_tokenizer(const dl_gguf *g, const char *dir) {
    uint32_t et;
    uint64_t n, nm;
    if (dl_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &n, NULL) ||
        dl_gguf_get_arr(g, "tokenizer.ggml.merges", &et, &nm, NULL))
        return -1;
    json_t *vocab = json_object(), *added = json_array(), *merges = json_array();
    for (uint64_t i = 0; i < n; i++) {
        dl_str t;
        int64_t type;
        dl_gguf_arr_str(g, "tokenizer.ggml.tokens", i, &t, NULL);
        dl_gguf_arr_i64(g, "tokenizer.ggml.token_type", i, &type, NULL);
        json_t *js = json_stringn(t.p, t.n);
        if (type == 1)
            json_object_set_new(vocab, json_string_value(js), json_integer((json_int_t)i));
        else if (type == 3)
            json_array_append_new(added, json_pack("{s:I,s:O,s:b,s:b,s:b,s:b,s:b}", "id", (json_int_t)i,
                                                   "content", js, "single_word", 0, "lstrip", 0,
                                                   "rstrip", 0, "normalized", 0, "special", 1));
        json_decref(js);
    }
    for (uint64_t i = 0; i < nm; i++) {
        dl_str m;
        dl_gguf_arr_str(g, "tokenizer.ggml.merges", i, &m, NULL);
        json_array_append_new(merges, json_stringn(m.p, m.n));
    }
    json_t *tj = json_pack("{s:s,s:n,s:n,s:o,s:n,s:{s:s,s:b,s:b,s:b},s:n,s:{s:s,s:n,s:n,s:n,s:b,s:b,s:o,s:o}}",
                           "version", "1.0", "truncation", "padding", "added_tokens", added,
                           "normalizer", "pre_tokenizer", "type", "ByteLevel", "add_prefix_space", 0,
                           "trim_offsets", 1, "use_regex", 1, "post_processor", "model", "type", "BPE",
                           "dropout", "unk_token", "continuing_subword_prefix", "fuse_unk", 0,
                           "byte_fallback", 0, "vocab", vocab, "merges", merges);
    char path[512];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    int rc = tj && json_dump_file(tj, path, JSON_INDENT(1)) == 0 ? 0 : -1;
    json_decref(tj);
    json_t *tc = json_pack("{s:b,s:b,s:s,s:s,s:s,s:s,s:b}", "add_bos_token", 0, "add_eos_token", 0,
                           "bos_token", "<|startoftext|>", "eos_token", "<|endoftext|>",
                           "pad_token", "<|endoftext|>",
                           "chat_template", "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
                           "{{ m['content'] }}<|im_end|>\n{% endfor %}",
                           "clean_up_tokenization_spaces", 0);
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    if (!tc || json_dump_file(tc, path, JSON_INDENT(1)) != 0)
        rc = -1;
    json_decref(tc);
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

int hf_write_folder(const dl_gguf *g, const char *dir, const hf_folder_opts *o) {
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
    for (int il = -1; il < (int)nl; il++)
        for (int t = il < 0 ? 0 : DL_T_FIRST_LAYER; t < (il < 0 ? DL_T_FIRST_LAYER : DL_T_COUNT); t++) {
            char gname[160];
            const dl_gguf_tensor *gt = dl_gguf_find_tensor(g, dl_tensor_name((dl_tensor_id)t, il, gname, sizeof gname));
            if (!gt)
                continue;
            if (dl_tensor_desc_get((dl_tensor_id)t)->kind == DL_TK_EXPERTS) {
                n_slices += hf_expert_slices(a, (dl_tensor_id)t, il, gt, es, &n, slices + n_slices);
                continue;
            }
            if (!dl_tensor_hf_name(a, (dl_tensor_id)t, il, es[n].name, sizeof es[n].name) || !dtype_of(gt->type)) {
                fprintf(stderr, "hf_folder: no HF form for %s\n", gname);
                free(es);
                return -1;
            }
            es[n].t = gt;
            es[n].unpermute = a->qk_permuted && (t == DL_T_ATTN_Q || t == DL_T_ATTN_K) ? hd : 0;
            n++;
        }
    int shards = o->shards > 1 ? o->shards : 1, rc = 0;
    int per = (n + shards - 1) / shards;
    FILE *ix = NULL;
    if (shards > 1) {
        snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
        ix = fopen(path, "w");
        fprintf(ix, "{\"metadata\":{\"total_size\":0},\"weight_map\":{");
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
    if (a->id == DIFFLM_ARCH_LLADA_MOE)
        hf_moe_config(f, g, a, tied, V);
    else if (a->id == DIFFLM_ARCH_LLADA)
        fprintf(f, "{\"architectures\":[\"LLaDAModelLM\"],\"model_type\":\"llada\",\"d_model\":%u,"
                "\"n_layers\":%u,\"n_heads\":%u,\"n_kv_heads\":%u,\"mlp_hidden_size\":%u,"
                "\"mlp_ratio\":4,\"max_sequence_length\":%u,\"vocab_size\":%d,\"embedding_size\":%d,"
                "\"rope\":true,\"rope_theta\":%.9g,\"rms_norm_eps\":%.9g,\"weight_tying\":%s,"
                "\"include_bias\":false,\"block_type\":\"llama\",\"activation_type\":\"silu\","
                "\"eos_token_id\":1,\"pad_token_id\":1",
                E, nl, nh, nkv, ff, ctx, V, V, (double)theta, (double)eps, tied ? "true" : "false");
    else
        fprintf(f, "{\"architectures\":[\"DreamModel\"],\"model_type\":\"Dream\",\"hidden_size\":%u,"
                "\"num_hidden_layers\":%u,\"num_attention_heads\":%u,\"num_key_value_heads\":%u,"
                "\"intermediate_size\":%u,\"max_position_embeddings\":%u,\"vocab_size\":%d,"
                "\"rope_theta\":%.9g,\"rms_norm_eps\":%.9g,\"tie_word_embeddings\":%s,"
                "\"rope_scaling\":null,\"hidden_act\":\"silu\",\"bos_token_id\":0,\"eos_token_id\":1",
                E, nl, nh, nkv, ff, ctx, V, (double)theta, (double)eps, tied ? "true" : "false");
    if (o->mask_id >= 0)
        fprintf(f, ",\"mask_token_id\":%d", o->mask_id);
    fprintf(f, "}\n");
    fclose(f);
    if (o->eos_id >= 0) {
        snprintf(path, sizeof path, "%s/generation_config.json", dir);
        f = fopen(path, "w");
        fprintf(f, "{\"bos_token_id\":0,\"eos_token_id\":[%d,4],\"transformers_version\":\"4.46.0\"}\n",
                o->eos_id);
        fclose(f);
    }
    if (!rc)
        rc = write_tokenizer(g, dir);
    return rc;
}
