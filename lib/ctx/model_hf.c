/* model_hf.c - a Hugging Face model folder as the public model (model_obj.h): the
 * weights from its safetensors, in place (lib/model/hf_config.c), and the tokenizer read
 * from its own files with Hugging Face's semantics (dl_tok_load_hf: tokenizer.json or
 * the slow files, tokenizer_config.json with its chat template, special_tokens_map.json),
 * never through a GGUF image of it. What the folder's configs say about special ids is
 * then applied the way transformers applies it (doc/formats.md, "Hugging Face model
 * folders"). */
#include "ctx/model_obj.h"
#include "model/hf_config.h"

/* config.json / generation_config.json ids over the tokenizer files': the EOS ids of
 * generation_config.json (else config.json) end generation in transformers, so the first
 * is the EOS and a second one, when the vocabulary names no end-of-turn token, the EOT;
 * the BOS stays the tokenizer's bos_token (what tokenization adds) and falls back to the
 * configs' bos_token_id only when the tokenizer names none; config.json's mask_token_id
 * is the model's mask. */
static int apply_config_ids(dl_tok *tok, const dl_hf_config *c, const char *dir, dl_err *err) {
    const dl_tok_special *sp = dl_tok_specials(tok);
    const int32_t n = dl_tok_n_vocab(tok);
    dl_tok_special o = dl_tok_special_keep();
    if (c->n_eos > 0) {
        o.eos = c->eos[0];
        if (sp->eot < 0 && c->n_eos > 1)
            o.eot = c->eos[1];
    }
    if (sp->bos < 0 && c->bos_id >= 0)
        o.bos = c->bos_id;
    if (c->mask_id >= 0 && c->mask_id < n)
        o.mask = c->mask_id;   /* outside the tokenizer: still the model's, checked by the caller */
    const int32_t ids[] = { o.eos, o.eot, o.bos };
    static const char *const what[] = { "eos_token_id", "eos_token_id (second)", "bos_token_id" };
    for (int i = 0; i < 3; i++)
        if (ids[i] >= n)
            return dl_fail(err, DIFFLM_E_FORMAT, "'%s': %s %d is not a token of the tokenizer (%d tokens; "
                           "generation_config.json or config.json)", dir, what[i], ids[i], n);
    return dl_tok_set_specials(tok, &o, err);
}

int dl_model_obj_load_hf(struct difflm_model *m, const char *dir, int32_t *mask_id, dl_err *err) {
    *mask_id = -1;
    dl_hf_config c;
    /* read once on its own for vocab_size: the model's load replaces the hyperparameters
     * with the weights' */
    int rc = dl_hf_config_read(&c, dir, err);
    if (rc)
        return rc;
    const int32_t cfg_vocab = c.hp.n_vocab;
    if ((rc = dl_hf_model_load(&m->model, &m->st, &c, dir, err)))
        return rc;
    const int32_t rows = m->model->hp.n_vocab;
    if (cfg_vocab > 0 && cfg_vocab != rows)
        return dl_fail(err, DIFFLM_E_FORMAT, "'%s/config.json': vocab_size is %d, but the embedding has %d "
                       "rows", dir, cfg_vocab, rows);
    if ((rc = dl_tok_load_hf(&m->tok, dir, err)))
        return rc;
    if (dl_tok_n_vocab(m->tok) > rows)
        return dl_fail(err, DIFFLM_E_FORMAT, "'%s': the tokenizer has %d tokens, but the embedding has only %d "
                       "rows", dir, dl_tok_n_vocab(m->tok), rows);
    if ((rc = apply_config_ids(m->tok, &c, dir, err)))
        return rc;
    /* every row can be predicted, as in the reference samplers (and as from the
     * converted GGUF, whose vocabulary names the rest [PAD{id}]) */
    if ((rc = dl_tok_set_n_ids(m->tok, rows, err)))
        return rc;
    *mask_id = c.mask_id;
    return 0;
}
