/* tok_hf_pipeline.c - tokenizer.json's normalizer, pre_tokenizer, post_processor and
 * decoder, turned into the dl_tok pipeline (doc/formats.md, "Tokenizer files").
 *
 * Only what byte-level BPE tokenizers use is implemented; any other component type is
 * DIFFLM_E_UNSUPPORTED naming it, never silently ignored. */
#include <jansson.h>
#include <string.h>

#include "tok/tok_hf.h"

static const char *type_of(json_t *o) {
    json_t *ty = json_is_object(o) ? json_object_get(o, "type") : NULL;
    return json_is_string(ty) ? json_string_value(ty) : NULL;
}

int dl_hf_bool(json_t *o, const char *key, int dflt, int *out, const char *where, dl_err *err) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        *out = dflt;
        return 0;
    }
    if (!json_is_boolean(v)) return dl_fail(err, DIFFLM_E_FORMAT, "%s: '%s' is not true or false", where, key);
    *out = json_is_true(v);
    return 0;
}

static int add_normalizer(dl_pretok *p, json_t *o, const char *file, dl_err *err) {
    if (!o || json_is_null(o)) return 0;
    const char *ty = type_of(o);
    if (!ty) return dl_fail(err, DIFFLM_E_FORMAT, "%s: normalizer without a \"type\"", file);
    if (strcmp(ty, "Sequence") == 0) {
        json_t *list = json_object_get(o, "normalizers");
        if (!json_is_array(list)) return dl_fail(err, DIFFLM_E_FORMAT, "%s: Sequence normalizer without \"normalizers\"", file);
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v) {
            int rc = add_normalizer(p, v, file, err);
            if (rc) return rc;
        }
        return 0;
    }
    static const struct { const char *name; int kind; } kinds[] = {
        {"NFC", DL_UNORM_NFC}, {"NFD", DL_UNORM_NFD}, {"NFKC", DL_UNORM_NFKC}, {"NFKD", DL_UNORM_NFKD},
    };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        if (strcmp(ty, kinds[k].name) != 0) continue;
        if (p->n_norm >= DL_UNORM_MAX) return dl_fail(err, DIFFLM_E_UNSUPPORTED, "%s: more than %d normalizers", file, DL_UNORM_MAX);
        p->norm[p->n_norm++] = (uint8_t)kinds[k].kind;
        return 0;
    }
    return dl_fail(err, DIFFLM_E_UNSUPPORTED, "%s: normalizer type '%.64s' is not supported "
                   "(NFC, NFD, NFKC, NFKD, Sequence)", file, ty);
}

static int behavior_of(const char *s) {
    static const char *const names[] = {"Isolated", "Removed", "MergedWithPrevious", "MergedWithNext", "Contiguous"};
    for (int i = 0; i < 5; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

/* seen_bytelevel: set once a ByteLevel step is added; nothing may follow it (after it
 * the text is in the byte alphabet, which our pipeline never materializes). */
static int add_pre(dl_pretok *p, json_t *o, int *seen_bytelevel, const char *file, dl_err *err) {
    if (!o || json_is_null(o)) return 0;
    const char *ty = type_of(o);
    if (!ty) return dl_fail(err, DIFFLM_E_FORMAT, "%s: pre_tokenizer without a \"type\"", file);
    if (strcmp(ty, "Sequence") == 0) {
        json_t *list = json_object_get(o, "pretokenizers");
        if (!json_is_array(list))
            return dl_fail(err, DIFFLM_E_FORMAT, "%s: Sequence pre_tokenizer without \"pretokenizers\"", file);
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v) {
            int rc = add_pre(p, v, seen_bytelevel, file, err);
            if (rc) return rc;
        }
        return 0;
    }
    if (*seen_bytelevel)
        return dl_fail(err, DIFFLM_E_UNSUPPORTED, "%s: pre_tokenizer '%.64s' after ByteLevel is not supported", file, ty);
    int rc;
    if (strcmp(ty, "ByteLevel") == 0) {
        int prefix = 1, use_regex = 1;
        if ((rc = dl_hf_bool(o, "add_prefix_space", 1, &prefix, file, err)) ||
            (rc = dl_hf_bool(o, "use_regex", 1, &use_regex, file, err)))
            return rc;
        *seen_bytelevel = 1;
        if (prefix && (rc = dl_pretok_add_step(p, &(dl_pre_step){.kind = DL_PK_PREFIX}, err))) return rc;
        if (use_regex)
            return dl_pretok_add_step(p, &(dl_pre_step){.kind = DL_PK_SPLIT, .scan = DL_SCAN_GPT2}, err);
        return 0;
    }
    if (strcmp(ty, "Digits") == 0) {
        int individual = 0;
        if ((rc = dl_hf_bool(o, "individual_digits", 0, &individual, file, err))) return rc;
        return dl_pretok_add_step(p, &(dl_pre_step){.kind = DL_PK_DIGITS, .individual = (uint8_t)individual}, err);
    }
    if (strcmp(ty, "Split") == 0) {
        json_t *pat = json_object_get(o, "pattern"), *beh = json_object_get(o, "behavior");
        json_t *rx = json_is_object(pat) ? json_object_get(pat, "Regex") : NULL;
        json_t *lit = json_is_object(pat) ? json_object_get(pat, "String") : NULL;
        json_t *ps = rx ? rx : lit;
        if (!json_is_string(ps))
            return dl_fail(err, DIFFLM_E_FORMAT, "%s: Split pattern is not {\"Regex\": ...} or {\"String\": ...}", file);
        if (!json_is_string(beh)) return dl_fail(err, DIFFLM_E_FORMAT, "%s: Split without a \"behavior\"", file);
        int b = behavior_of(json_string_value(beh));
        if (b < 0)
            return dl_fail(err, DIFFLM_E_UNSUPPORTED, "%s: Split behavior '%.64s' is not supported", file,
                           json_string_value(beh));
        int invert = 0;
        if ((rc = dl_hf_bool(o, "invert", 0, &invert, file, err))) return rc;
        return dl_pretok_add_split(p, json_string_value(ps), json_string_length(ps), rx != NULL, b, invert, err);
    }
    return dl_fail(err, DIFFLM_E_UNSUPPORTED, "%s: pre_tokenizer type '%.64s' is not supported "
                   "(ByteLevel, Split, Digits, Sequence)", file, ty);
}

/* The ids of one TemplateProcessing special token (special_tokens[name].ids). */
static int template_ids(dl_tok *t, json_t *specials, const char *name, int32_t *dst, int *n, const char *file,
                        dl_err *err) {
    json_t *e = json_is_object(specials) ? json_object_get(specials, name) : NULL;
    json_t *ids = json_is_object(e) ? json_object_get(e, "ids") : NULL;
    if (!json_is_array(ids))
        return dl_fail(err, DIFFLM_E_FORMAT, "%s: TemplateProcessing special token '%.64s' has no \"ids\"", file, name);
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= t->n_vocab)
            return dl_fail(err, DIFFLM_E_FORMAT, "%s: TemplateProcessing '%.64s': id outside the vocabulary", file, name);
        if (*n >= 4) return dl_fail(err, DIFFLM_E_UNSUPPORTED, "%s: TemplateProcessing adds more than 4 tokens on a side", file);
        dst[(*n)++] = (int32_t)json_integer_value(v);
    }
    return 0;
}

static int add_template(dl_tok *t, json_t *o, const char *file, dl_err *err) {
    json_t *single = json_object_get(o, "single"), *specials = json_object_get(o, "special_tokens");
    if (!json_is_array(single)) return dl_fail(err, DIFFLM_E_FORMAT, "%s: TemplateProcessing without \"single\"", file);
    if (t->has_template) return dl_fail(err, DIFFLM_E_UNSUPPORTED, "%s: two TemplateProcessing post-processors", file);
    t->has_template = 1;
    int seen_a = 0;
    size_t i;
    json_t *v;
    json_array_foreach(single, i, v) {
        json_t *sp = json_object_get(v, "SpecialToken"), *seq = json_object_get(v, "Sequence");
        if (json_is_object(seq)) {
            json_t *id = json_object_get(seq, "id");
            if (seen_a || !json_is_string(id) || strcmp(json_string_value(id), "A") != 0)
                return dl_fail(err, DIFFLM_E_UNSUPPORTED, "%s: TemplateProcessing \"single\" must hold sequence A once", file);
            seen_a = 1;
            continue;
        }
        json_t *name = json_is_object(sp) ? json_object_get(sp, "id") : NULL;
        if (!json_is_string(name))
            return dl_fail(err, DIFFLM_E_FORMAT, "%s: TemplateProcessing \"single\"[%zu] is neither SpecialToken nor Sequence", file, i);
        int rc = seen_a ? template_ids(t, specials, json_string_value(name), t->tmpl_post, &t->n_tmpl_post, file, err)
                        : template_ids(t, specials, json_string_value(name), t->tmpl_pre, &t->n_tmpl_pre, file, err);
        if (rc) return rc;
    }
    if (!seen_a) return dl_fail(err, DIFFLM_E_FORMAT, "%s: TemplateProcessing \"single\" has no sequence A", file);
    return 0;
}

static int add_post(dl_tok *t, json_t *o, const char *file, dl_err *err) {
    if (!o || json_is_null(o)) return 0;
    const char *ty = type_of(o);
    if (!ty) return dl_fail(err, DIFFLM_E_FORMAT, "%s: post_processor without a \"type\"", file);
    if (strcmp(ty, "Sequence") == 0) {
        json_t *list = json_object_get(o, "processors");
        if (!json_is_array(list)) return dl_fail(err, DIFFLM_E_FORMAT, "%s: Sequence post_processor without \"processors\"", file);
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v) {
            int rc = add_post(t, v, file, err);
            if (rc) return rc;
        }
        return 0;
    }
    if (strcmp(ty, "ByteLevel") == 0) return 0;   /* it only trims offsets: the ids stay */
    if (strcmp(ty, "TemplateProcessing") == 0) return add_template(t, o, file, err);
    return dl_fail(err, DIFFLM_E_UNSUPPORTED, "%s: post_processor type '%.64s' is not supported "
                   "(TemplateProcessing, ByteLevel, Sequence)", file, ty);
}

static int check_decoder(json_t *o, const char *file, dl_err *err) {
    if (!o || json_is_null(o)) return 0;
    const char *ty = type_of(o);
    if (!ty) return dl_fail(err, DIFFLM_E_FORMAT, "%s: decoder without a \"type\"", file);
    if (strcmp(ty, "ByteLevel") == 0) return 0;
    if (strcmp(ty, "Sequence") == 0) {
        json_t *list = json_object_get(o, "decoders");
        if (!json_is_array(list)) return dl_fail(err, DIFFLM_E_FORMAT, "%s: Sequence decoder without \"decoders\"", file);
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v) {
            int rc = check_decoder(v, file, err);
            if (rc) return rc;
        }
        return 0;
    }
    return dl_fail(err, DIFFLM_E_UNSUPPORTED, "%s: decoder type '%.64s' is not supported (ByteLevel)", file, ty);
}

int dl_hf_pipeline(dl_tok *t, json_t *root, const char *file, dl_err *err) {
    int rc, seen_bytelevel = 0;
    if ((rc = add_normalizer(&t->pretok, json_object_get(root, "normalizer"), file, err)) ||
        (rc = add_pre(&t->pretok, json_object_get(root, "pre_tokenizer"), &seen_bytelevel, file, err)) ||
        (rc = add_post(t, json_object_get(root, "post_processor"), file, err)) ||
        (rc = check_decoder(json_object_get(root, "decoder"), file, err)))
        return rc;
    if (!seen_bytelevel)
        return dl_fail(err, DIFFLM_E_UNSUPPORTED, "%s: no ByteLevel pre_tokenizer: only byte-level BPE "
                       "tokenizers are supported", file);
    return 0;
}
