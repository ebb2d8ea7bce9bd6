"""A minimal GGUF writer for the reference's own tests (tiny models written from Python).

Lays out the file as doc/formats.md, "GGUF container layout", says: header, metadata in insertion order, tensor
infos, padding to the alignment, then tensors contiguously in insertion order, each
padded to the alignment.
"""

import struct

import numpy as np

from gguf import (GGML_BF16, GGML_F16, GGML_F32, T_ARRAY, T_BOOL, T_F32, T_F64, T_I8, T_I16,
                  T_I32, T_I64, T_STRING, T_U8, T_U16, T_U32, T_U64, _SCALAR_FMT)


def _str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def _bf16_bytes(a):
    """float32 -> bf16 with round-to-nearest-even (NaN not expected in tests)."""
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return u.astype("<u2").tobytes()


class Writer:
    def __init__(self, version=3, alignment=None):
        self.version = version
        self.alignment = alignment if alignment is not None else 32
        self.kv = []          # (key, vtype, value, elem type)
        self.tensors = []     # (name, ne, ggml type, bytes)
        if alignment is not None:
            self.add("general.alignment", T_U32, alignment)

    def add(self, key, vtype, value, elem_type=None):
        self.kv.append((key, vtype, value, elem_type))

    def add_array(self, key, elem_type, values):
        self.kv.append((key, T_ARRAY, list(values), elem_type))

    def add_tensor(self, name, array, ggml_type=GGML_F32):
        a = np.asarray(array, dtype=np.float32)
        ne = list(reversed(a.shape))
        if ggml_type == GGML_F32:
            data = a.astype("<f4").tobytes()
        elif ggml_type == GGML_F16:
            data = a.astype("<f2").tobytes()
        elif ggml_type == GGML_BF16:
            data = _bf16_bytes(a)
        else:
            raise ValueError("writer supports F32, F16, BF16 only")
        self.tensors.append((name, ne, ggml_type, data))

    def _value(self, vtype, v, elem_type):
        if vtype == T_STRING:
            return _str(v)
        if vtype == T_ARRAY:
            out = struct.pack("<IQ", elem_type, len(v))
            for x in v:
                out += self._value(elem_type, x, None)
            return out
        if vtype == T_BOOL:
            return struct.pack("<B", 1 if v else 0)
        return struct.pack(_SCALAR_FMT[vtype], v)

    def to_bytes(self):
        al = self.alignment
        out = bytearray(b"GGUF")
        out += struct.pack("<IQQ", self.version, len(self.tensors), len(self.kv))
        for key, vtype, v, et in self.kv:
            out += _str(key) + struct.pack("<I", vtype) + self._value(vtype, v, et)
        off = 0
        for name, ne, t, data in self.tensors:
            out += _str(name) + struct.pack("<I", len(ne))
            out += b"".join(struct.pack("<Q", x) for x in ne)
            out += struct.pack("<IQ", t, off)
            off += -(-len(data) // al) * al
        out += b"\0" * (-len(out) % al)
        for name, ne, t, data in self.tensors:
            out += data + b"\0" * (-len(data) % al)
        return bytes(out)

    def write(self, path):
        with open(path, "wb") as f:
            f.write(self.to_bytes())


ALL_SCALARS = [(T_U8, 200), (T_I8, -100), (T_U16, 60000), (T_I16, -30000), (T_U32, 4000000000),
               (T_I32, -2000000000), (T_F32, 1.5), (T_BOOL, True), (T_U64, 2 ** 63 + 5),
               (T_I64, -(2 ** 62)), (T_F64, -2.25), (T_STRING, "héllo")]


def tiny_model(arch="llada", n_embd=16, n_layer=2, n_head=4, n_head_kv=4, n_ff=24, vocab=40,
               tied=False, mask_id=None, ttype=GGML_F32, seed=0, shift_key=True, biases=None,
               out_bias=False, theta=10000.0, eps=1e-5, tokens=True):
    """A random-weight model in the `llada` or `dream` tensor layout. Returns the Writer."""
    rng = np.random.default_rng(seed)
    hd = n_embd // n_head
    w = Writer()
    w.add("general.architecture", T_STRING, arch)
    w.add(arch + ".context_length", T_U32, 256)
    w.add(arch + ".embedding_length", T_U32, n_embd)
    w.add(arch + ".block_count", T_U32, n_layer)
    w.add(arch + ".feed_forward_length", T_U32, n_ff)
    w.add(arch + ".attention.head_count", T_U32, n_head)
    w.add(arch + ".attention.head_count_kv", T_U32, n_head_kv)
    w.add(arch + ".attention.layer_norm_rms_epsilon", T_F32, eps)
    w.add(arch + ".rope.freq_base", T_F32, theta)
    if shift_key:
        w.add("diffusion.shift_logits", T_BOOL, arch == "dream")
    if mask_id is None:
        mask_id = vocab - 1
    w.add("tokenizer.ggml.mask_token_id", T_U32, mask_id)
    w.add("tokenizer.ggml.eos_token_id", T_U32, 2)
    if tokens:
        w.add_array("tokenizer.ggml.tokens", T_STRING, ["t%d" % i for i in range(vocab)])

    def r(*shape, scale=0.3):
        return rng.standard_normal(shape) * scale

    def norm(n):
        return 1.0 + 0.1 * rng.standard_normal(n)

    if biases is None:
        biases = arch == "dream"
    w.add_tensor("token_embd.weight", r(vocab, n_embd, scale=1.0), ttype)
    w.add_tensor("output_norm.weight", norm(n_embd), GGML_F32)
    if not tied:
        w.add_tensor("output.weight", r(vocab, n_embd), ttype)
    if out_bias:
        w.add_tensor("output.bias", r(vocab), GGML_F32)
    for i in range(n_layer):
        p = "blk.%d." % i
        w.add_tensor(p + "attn_norm.weight", norm(n_embd), GGML_F32)
        w.add_tensor(p + "attn_q.weight", r(n_head * hd, n_embd), ttype)
        w.add_tensor(p + "attn_k.weight", r(n_head_kv * hd, n_embd), ttype)
        w.add_tensor(p + "attn_v.weight", r(n_head_kv * hd, n_embd), ttype)
        if biases:
            w.add_tensor(p + "attn_q.bias", r(n_head * hd), GGML_F32)
            w.add_tensor(p + "attn_k.bias", r(n_head_kv * hd), GGML_F32)
            w.add_tensor(p + "attn_v.bias", r(n_head_kv * hd), GGML_F32)
        w.add_tensor(p + "attn_output.weight", r(n_embd, n_head * hd), ttype)
        w.add_tensor(p + "ffn_norm.weight", norm(n_embd), GGML_F32)
        w.add_tensor(p + "ffn_gate.weight", r(n_ff, n_embd), ttype)
        w.add_tensor(p + "ffn_up.weight", r(n_ff, n_embd), ttype)
        w.add_tensor(p + "ffn_down.weight", r(n_embd, n_ff), ttype)
    return w


__all__ = ["Writer", "tiny_model", "ALL_SCALARS", "T_U8", "T_I8", "T_U16", "T_I16", "T_U32",
           "T_I32", "T_F32", "T_BOOL", "T_U64", "T_I64", "T_F64", "T_STRING", "T_ARRAY"]
