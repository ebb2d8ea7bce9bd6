/* tok_decode.c - ids to bytes. Each token's bytes were computed at load (tok_load.c),
 * so this only chooses which tokens render and copies. */
#include <string.h>

#include "tok/tok_internal.h"

int dl_tok_decode(const dl_tok *t, const int32_t *ids, size_t n, uint32_t flags,
                  char *out, size_t cap, size_t *n_out, dl_err *err) {
    if (!t || !n_out || (!ids && n) || (!out && cap))
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "dl_tok_decode: NULL argument");
    size_t need = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (id < 0 || id >= t->n_ids)
            return dl_fail(err, DIFFLM_E_INVALID_ARG, "tokenizer: id %d at [%zu] is outside the vocabulary (%d)",
                           id, i, t->n_ids);
        if (id >= t->n_vocab) continue;   /* no token names it: no text */
        uint8_t ty = t->type[id];
        /* control tokens and unused slots are markup, not text, unless asked for */
        if ((ty == DL_TOKT_CONTROL || ty == DL_TOKT_UNUSED) && !(flags & DIFFLM_DETOKENIZE_SPECIAL)) continue;
        size_t len = t->dec_off[id + 1] - t->dec_off[id];
        if (need < cap) memcpy(out + need, t->dec + t->dec_off[id], DL_MIN(len, cap - need));
        need += len;
    }
    *n_out = need;
    if (need > cap)
        return dl_fail(err, DIFFLM_E_BUFFER_TOO_SMALL, "tokenizer: %zu bytes do not fit in %zu", need, cap);
    return 0;
}
