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

ARCHS = ("llada", "dream", "llada-moe", "llada2")

# Mixture-of-experts architectures (the facts of doc/formats.md, "Mixture of experts"):
#   llada-moe: QK RMSNorm per head before RoPE (half split), every layer MoE:
#       p = softmax(router logits over all experts); the k largest p; no renormalisation;
#       ffn(h) = sum_j p_j * expert_j(h)
#   sigmoid-group routers (llada2): s = sigmoid(logits), b = s + expert bias;
#       group score = sum of the two largest b of each group of consecutive experts;
#       keep the best topk_group groups; the k largest b inside them;
#       weights = s_j / (sum s + 1e-20) * routed scale; plus the shared expert.
#   Ties go to the lowest index (experts and groups).
MOE = {"llada-moe": "softmax", "llada2": "sigmoid"}

# llada2 (LLaDA2.0 / 2.1, HF llada2_moe), from the published config and reference code:
#   one fused projection blk.N.attn_qkv.weight whose output rows are q (n_head heads),
#   then k, then v (n_head_kv heads each); RMSNorm of q and k per head; then RoPE on the
#   first rope.dimension_count dimensions of each head only, half split *of that part*
#   (pairs (i, i + n_rot/2)), frequencies theta^(-2i/n_rot); the rest pass through.
#   Layers below leading_dense_block_count are dense, the others sigmoid-group MoE with
#   a shared expert. Attention is block-causal: position i sees position j when
#   j // B <= i // B (B = diffusion.block_length, 32 when the file says none).
PARTIAL_ROPE = ("llada2",)
BLOCK_DEFAULT = {"llada2": 32}


def topk_lowest_index(v, k):
    """Indices of the k largest entries of v, largest first, ties to the lowest index."""
    return np.argsort(-np.asarray(v, dtype=np.float64), kind="stable")[:k]


def route_softmax(logits, k):
    p = np.exp(logits - logits.max())
    p = p / p.sum()
    idx = topk_lowest_index(p, k)
    return idx, p[idx]


def route_sigmoid_group(logits, bias, k, n_group, topk_group, scale):
    s = 1.0 / (1.0 + np.exp(-logits))
    b = s + (bias if bias is not None else 0.0)
    n = len(logits)
    allowed = np.ones(n, dtype=bool)
    if n_group > 1:
        g = b.reshape(n_group, n // n_group)
        gscore = np.sort(g, axis=1)[:, ::-1][:, :2].sum(axis=1)
        keep = topk_lowest_index(gscore, topk_group)
        allowed[:] = False
        for grp in keep:
            allowed[grp * (n // n_group):(grp + 1) * (n // n_group)] = True
    cand = np.where(allowed, b, -np.inf)
    idx = topk_lowest_index(cand, k)
    w = s[idx]
    if k > 1:
        w = w / (w.sum() + 1e-20)
    return idx, w * scale


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
        ff = g.get(arch + ".feed_forward_length")
        if ff is None and arch not in MOE:
            req("feed_forward_length")
        self.n_ff = int(scalar("feed_forward_length", ff)) if ff is not None else 0
        self.n_head = int(scalar("attention.head_count", req("attention.head_count")))
        hkv = g.get(arch + ".attention.head_count_kv")
        self.n_head_kv = int(scalar("attention.head_count_kv", hkv)) if hkv is not None else self.n_head
        self.eps = float(req("attention.layer_norm_rms_epsilon"))
        self.theta = float(g.get(arch + ".rope.freq_base", 10000.0))
        self.head_dim = int(g.get(arch + ".attention.key_length", self.n_embd // self.n_head))
        self.router = MOE.get(arch)
        if self.router is not None:
            self.n_expert = int(req("expert_count"))
            self.n_expert_used = int(req("expert_used_count"))
            self.n_ff_exp = int(g.get(arch + ".expert_feed_forward_length",
                                      self.n_ff // self.n_expert_used if self.n_ff else 0))
            self.n_shared = int(g.get(arch + ".expert_shared_count", 0))
            self.n_ff_shexp = int(g.get(arch + ".expert_shared_feed_forward_length",
                                        self.n_shared * self.n_ff_exp))
            sc = float(g.get(arch + ".expert_weights_scale", 0.0))
            self.routed_scale = 1.0 if sc == 0.0 else sc
            self.n_group = int(g.get(arch + ".expert_group_count", 1))
            self.topk_group = int(g.get(arch + ".expert_group_used_count", self.n_group))
            self.n_dense_lead = int(g.get(arch + ".leading_dense_block_count", 0))
        n_rot = int(g.get(arch + ".rope.dimension_count", self.head_dim))
        if n_rot != self.head_dim and (arch not in PARTIAL_ROPE or n_rot > self.head_dim
                                       or n_rot % 2 or n_rot < 2):
            raise GGUFError("rope.dimension_count %d with head_dim %d" % (n_rot, self.head_dim))
        self.n_rot = n_rot
        # doc/formats.md "Diffusion keys": a block length makes attention block-causal,
        # bidirectional inside blocks of that many positions, causal across them
        bl = g.get("diffusion.block_length")
        self.block_length = int(bl) if bl else BLOCK_DEFAULT.get(arch, 0)
        if self.n_head % self.n_head_kv != 0:
            raise GGUFError("head_count %d not a multiple of head_count_kv %d"
                            % (self.n_head, self.n_head_kv))
        if self.head_dim % 2 != 0:
            raise GGUFError("head_dim %d is odd" % self.head_dim)
        self.half_split = arch in ("dream", "llada-moe", "llada2")
        # Absent means shift (llama.cpp's diffusion example); both converters for llada
        # write false explicitly.
        sl = g.get("diffusion.shift_logits")
        self.shift_logits = True if sl is None else bool(sl)

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
            if arch == "llada2":
                qkv = W(p + "attn_qkv.weight", (nq + 2 * nkv, d))
                wq, wk, wv = qkv[:nq], qkv[nq:nq + nkv], qkv[nq + nkv:]
            else:
                wq = W(p + "attn_q.weight", (nq, d))
                wk = W(p + "attn_k.weight", (nkv, d))
                wv = W(p + "attn_v.weight", (nkv, d))
            L = {
                "attn_norm": W(p + "attn_norm.weight", (d,)),
                "wq": wq,
                "wk": wk,
                "wv": wv,
                "bq": W(p + "attn_q.bias", (nq,), optional=True),
                "bk": W(p + "attn_k.bias", (nkv,), optional=True),
                "bv": W(p + "attn_v.bias", (nkv,), optional=True),
                "wo": W(p + "attn_output.weight", (d, nq)),
                "ffn_norm": W(p + "ffn_norm.weight", (d,)),
                "q_norm": W(p + "attn_q_norm.weight", (hd,), optional=True),
                "k_norm": W(p + "attn_k_norm.weight", (hd,), optional=True),
            }
            if self.router is not None and i >= self.n_dense_lead:
                X, F = self.n_expert, self.n_ff_exp
                L["router"] = W(p + "ffn_gate_inp.weight", (X, d))
                L["router_bias"] = W(p + "exp_probs_b.bias", (X,), optional=True)
                L["exp_gate"] = W(p + "ffn_gate_exps.weight", (X, F, d))
                L["exp_up"] = W(p + "ffn_up_exps.weight", (X, F, d))
                L["exp_down"] = W(p + "ffn_down_exps.weight", (X, d, F))
                if self.n_ff_shexp:
                    S = self.n_ff_shexp
                    L["sh_gate"] = W(p + "ffn_gate_shexp.weight", (S, d))
                    L["sh_up"] = W(p + "ffn_up_shexp.weight", (S, d))
                    L["sh_down"] = W(p + "ffn_down_shexp.weight", (d, S))
            else:
                L["w_gate"] = W(p + "ffn_gate.weight", (self.n_ff, d))
                L["w_up"] = W(p + "ffn_up.weight", (self.n_ff, d))
                L["w_down"] = W(p + "ffn_down.weight", (d, self.n_ff))
            self.layers.append(L)

    # ---- pieces

    def rmsnorm(self, x, w):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.eps) * w

    def rope(self, x):
        """x: [n, heads, hd]; rotates pair i by pos * theta^(-2i/hd) at pos = 0..n-1.
        With partial RoPE only x[..., :n_rot] turns, as a head of n_rot would."""
        if self.n_rot < x.shape[-1]:
            out = x.copy()
            out[..., :self.n_rot] = self.rope(np.ascontiguousarray(x[..., :self.n_rot]))
            return out
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
        q = q.reshape(n, nh, hd)
        k = k.reshape(n, nkv, hd)
        if L.get("q_norm") is not None:
            q = self.rmsnorm(q, L["q_norm"])      # per head, over head_dim
        if L.get("k_norm") is not None:
            k = self.rmsnorm(k, L["k_norm"])
        q = self.rope(q)
        k = self.rope(k)
        v = v.reshape(n, nkv, hd)
        group = nh // nkv
        out = np.empty((n, nh, hd))
        blocked = None
        if self.block_length > 0:
            blk = np.arange(n) // self.block_length
            blocked = blk[None, :] > blk[:, None]                # key block after the query's
        for hh in range(nh):
            kv = hh // group
            s = (q[:, hh, :] @ k[:, kv, :].T) / np.sqrt(hd)      # [n, n]
            if blocked is not None:
                s = np.where(blocked, -np.inf, s)
            s = s - s.max(axis=1, keepdims=True)
            p = np.exp(s)
            p /= p.sum(axis=1, keepdims=True)
            out[:, hh, :] = p @ v[:, kv, :]
        return out.reshape(n, nh * hd) @ L["wo"].T

    @staticmethod
    def swiglu(h, wg, wu, wd):
        gate = h @ wg.T
        up = h @ wu.T
        return (gate / (1.0 + np.exp(-gate)) * up) @ wd.T

    def route(self, logits, L):
        if self.router == "softmax":
            return route_softmax(logits, self.n_expert_used)
        return route_sigmoid_group(logits, L.get("router_bias"), self.n_expert_used,
                                   self.n_group, self.topk_group, self.routed_scale)

    def moe(self, h, L):
        out = np.zeros_like(h)
        logits = h @ L["router"].T                               # [n, n_expert]
        for t in range(h.shape[0]):
            idx, w = self.route(logits[t], L)
            for e, we in zip(idx, w):
                out[t] += we * self.swiglu(h[t:t + 1], L["exp_gate"][e], L["exp_up"][e],
                                           L["exp_down"][e])[0]
        if "sh_gate" in L:
            out += self.swiglu(h, L["sh_gate"], L["sh_up"], L["sh_down"])
        return out

    def ffn(self, h, L):
        if "router" in L:
            return self.moe(h, L)
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
