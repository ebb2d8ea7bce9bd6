"""Reference forward pass of the `llada` and `dream` architectures, in float64 numpy.

Written from doc/formats.md ("Model metadata" to "Diffusion keys") and
doc/models.md, "Architectures", independently of difflm's C model:

    x = token_embd rows for the ids                  (no scaling)
    per layer:
        h = rmsnorm(x) * attn_norm
        q, k, v = h Wq (+bq), h Wk (+bk), h Wv (+bv)   (biases where the file has them)
        RoPE on q and k at positions 0..n-1:
            llada: adjacent pairs (2i, 2i+1)   (the GGUF stores permuted q/k rows)
            dream: half split (i, i + d/2)
        attention, bidirectional (block-causal with diffusion.block_length B > 0:
            position i sees j only when j // B <= i // B), scale 1/sqrt(head_dim), GQA
        x = x + attn Wo
        h = rmsnorm(x) * ffn_norm
        x = x + down(silu(gate h) * up h)
    logits = (rmsnorm(x) * output_norm) W_head (+ output.bias)
    W_head = output.weight, or token_embd when the file has none (tied)

rmsnorm(x) = x / sqrt(mean(x^2) + eps). The logits returned are unshifted: row i is the
head's output for position i. `shift_logits` says how a sampler must read them.
"""

import numpy as np

from gguf import GGUFError, GGUFReader

ARCHS = ("llada", "dream")


class Model:
    def __init__(self, path_or_reader):
        g = path_or_reader if isinstance(path_or_reader, GGUFReader) else GGUFReader(path_or_reader)
        self.g = g
        arch = g.get("general.architecture")
        if arch not in ARCHS:
            raise GGUFError("general.architecture %r is not one of %s" % (arch, ARCHS))
        self.arch = arch

        def req(key):
            v = g.get(arch + "." + key)
            if v is None:
                raise GGUFError("missing required key '%s.%s'" % (arch, key))
            return v

        def scalar(key, v):
            if isinstance(g.kv_types.get(arch + "." + key), tuple):
                # Per-layer arrays: the reference supports only uniform layers.
                vals = set(int(x) for x in v)
                if len(vals) != 1:
                    raise GGUFError("'%s.%s' varies per layer; not supported" % (arch, key))
                return vals.pop()
            return v

        self.n_embd = int(req("embedding_length"))
        self.n_layer = int(req("block_count"))
        self.n_ff = int(scalar("feed_forward_length", req("feed_forward_length")))
        self.n_head = int(scalar("attention.head_count", req("attention.head_count")))
        hkv = g.get(arch + ".attention.head_count_kv")
        self.n_head_kv = int(scalar("attention.head_count_kv", hkv)) if hkv is not None else self.n_head
        self.eps = float(req("attention.layer_norm_rms_epsilon"))
        self.theta = float(g.get(arch + ".rope.freq_base", 10000.0))
        self.head_dim = int(g.get(arch + ".attention.key_length", self.n_embd // self.n_head))
        n_rot = int(g.get(arch + ".rope.dimension_count", self.head_dim))
        if n_rot != self.head_dim:
            raise GGUFError("rope.dimension_count %d != head_dim %d" % (n_rot, self.head_dim))
        if self.n_head % self.n_head_kv != 0:
            raise GGUFError("head_count %d not a multiple of head_count_kv %d"
                            % (self.n_head, self.n_head_kv))
        if self.head_dim % 2 != 0:
            raise GGUFError("head_dim %d is odd" % self.head_dim)
        self.half_split = arch == "dream"
        # Absent means shift (llama.cpp's diffusion example); both converters for llada
        # write false explicitly.
        sl = g.get("diffusion.shift_logits")
        self.shift_logits = True if sl is None else bool(sl)
        # doc/formats.md "Diffusion keys": a block length makes attention block-causal,
        # bidirectional inside blocks of that many positions, causal across them
        self.block_length = int(g.get("diffusion.block_length", 0))

        def W(name, shape=None, optional=False):
            t = g.tensors.get(name)
            if t is None:
                if optional:
                    return None
                raise GGUFError("missing tensor '%s'" % name)
            a = t.array(np.float64)
            if shape is not None and a.shape != shape:
                raise GGUFError("tensor '%s' has numpy shape %s, expected %s" % (name, a.shape, shape))
            return a

        d, hd = self.n_embd, self.head_dim
        nq, nkv = self.n_head * hd, self.n_head_kv * hd
        self.tok_embd = W("token_embd.weight")
        if self.tok_embd.ndim != 2 or self.tok_embd.shape[1] != d:
            raise GGUFError("token_embd.weight has shape %s" % (self.tok_embd.shape,))
        self.n_vocab = self.tok_embd.shape[0]
        self.output_norm = W("output_norm.weight", (d,))
        out = W("output.weight", (self.n_vocab, d), optional=True)
        self.tied = out is None
        self.output = self.tok_embd if out is None else out
        self.output_bias = W("output.bias", (self.n_vocab,), optional=True)

        self.layers = []
        for i in range(self.n_layer):
            p = "blk.%d." % i
            L = {
                "attn_norm": W(p + "attn_norm.weight", (d,)),
                "wq": W(p + "attn_q.weight", (nq, d)),
                "wk": W(p + "attn_k.weight", (nkv, d)),
                "wv": W(p + "attn_v.weight", (nkv, d)),
                "bq": W(p + "attn_q.bias", (nq,), optional=True),
                "bk": W(p + "attn_k.bias", (nkv,), optional=True),
                "bv": W(p + "attn_v.bias", (nkv,), optional=True),
                "wo": W(p + "attn_output.weight", (d, nq)),
                "ffn_norm": W(p + "ffn_norm.weight", (d,)),
                "w_gate": W(p + "ffn_gate.weight", (self.n_ff, d)),
                "w_up": W(p + "ffn_up.weight", (self.n_ff, d)),
                "w_down": W(p + "ffn_down.weight", (d, self.n_ff)),
            }
            self.layers.append(L)

    # ---- pieces

    def rmsnorm(self, x, w):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.eps) * w

    def rope(self, x):
        """x: [n, heads, hd]; rotates pair i by pos * theta^(-2i/hd) at pos = 0..n-1."""
        n, _, hd = x.shape
        half = hd // 2
        inv_freq = self.theta ** (-2.0 * np.arange(half) / hd)          # [half]
        ang = np.arange(n, dtype=np.float64)[:, None] * inv_freq[None]   # [n, half]
        cos = np.cos(ang)[:, None, :]
        sin = np.sin(ang)[:, None, :]
        if self.half_split:
            a, b = x[..., :half], x[..., half:]
        else:
            a, b = x[..., 0::2], x[..., 1::2]
        ra = a * cos - b * sin
        rb = a * sin + b * cos
        out = np.empty_like(x)
        if self.half_split:
            out[..., :half], out[..., half:] = ra, rb
        else:
            out[..., 0::2], out[..., 1::2] = ra, rb
        return out

    def attention(self, h, L):
        n = h.shape[0]
        hd, nh, nkv = self.head_dim, self.n_head, self.n_head_kv
        q = h @ L["wq"].T
        k = h @ L["wk"].T
        v = h @ L["wv"].T
        if L["bq"] is not None:
            q = q + L["bq"]
        if L["bk"] is not None:
            k = k + L["bk"]
        if L["bv"] is not None:
            v = v + L["bv"]
        q = self.rope(q.reshape(n, nh, hd))
        k = self.rope(k.reshape(n, nkv, hd))
        v = v.reshape(n, nkv, hd)
        group = nh // nkv
        out = np.empty((n, nh, hd))
        later = None                                              # [n, n]: key in a later block
        if self.block_length > 0:
            blk = np.arange(n) // self.block_length
            later = blk[None, :] > blk[:, None]
        for hh in range(nh):
            kv = hh // group
            s = (q[:, hh, :] @ k[:, kv, :].T) / np.sqrt(hd)      # [n, n]
            if later is not None:
                s = np.where(later, -np.inf, s)
            s = s - s.max(axis=1, keepdims=True)
            p = np.exp(s)
            p /= p.sum(axis=1, keepdims=True)
            out[:, hh, :] = p @ v[:, kv, :]
        return out.reshape(n, nh * hd) @ L["wo"].T

    def ffn(self, h, L):
        gate = h @ L["w_gate"].T
        up = h @ L["w_up"].T
        silu = gate / (1.0 + np.exp(-gate))
        return (silu * up) @ L["w_down"].T

    # ---- whole passes

    def hidden(self, ids):
        """Final-normed hidden states [n, n_embd] for token ids at positions 0..n-1."""
        ids = np.asarray(ids, dtype=np.int64)
        if ids.ndim != 1 or ids.size == 0:
            raise ValueError("ids must be a non-empty 1-D sequence")
        if ids.min() < 0 or ids.max() >= self.n_vocab:
            raise ValueError("token id out of range [0, %d)" % self.n_vocab)
        x = self.tok_embd[ids].copy()
        for L in self.layers:
            x = x + self.attention(self.rmsnorm(x, L["attn_norm"]), L)
            x = x + self.ffn(self.rmsnorm(x, L["ffn_norm"]), L)
        return self.rmsnorm(x, self.output_norm)

    def logits(self, ids):
        """Unshifted logits [n, n_vocab] in float64: row i is the head at position i."""
        y = self.hidden(ids) @ self.output.T
        if self.output_bias is not None:
            y = y + self.output_bias
        return y

    # ---- tokenizer facts the sampler needs

    def special_ids(self):
        """(mask, eos, eot, n_vocab_tok) from the tokenizer keys; -1 where absent."""
        g = self.g

        def key(name):
            v = g.get("tokenizer.ggml." + name)
            return -1 if v is None else int(v)

        tokens = g.get("tokenizer.ggml.tokens")
        n_tok = len(tokens) if isinstance(tokens, list) and tokens else self.n_vocab
        eot = key("eot_token_id")
        if eot < 0 and isinstance(tokens, list):
            for text in ("<|eot_id|>", "<|im_end|>"):
                if text in tokens:
                    eot = tokens.index(text)
                    break
        return key("mask_token_id"), key("eos_token_id"), eot, min(n_tok, self.n_vocab)
