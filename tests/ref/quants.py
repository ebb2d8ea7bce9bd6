"""Dequantizers for ggml's quantized block formats, for the reference program.

Written from doc/formats.md, "Quantized block layouts", not from
difflm's C code, so the two check each other. Every function takes the raw bytes of a
tensor (a whole number of blocks) and returns float32 values in storage order.

Arithmetic is float32 and follows the formulas in the order doc/formats.md (and ggml's
dequantize_row_*) evaluate them:
  Q8_0  d*q            Q4_0 d*(q-8)        Q4_1 d*q + m
  Q5_0  d*(q-16)       Q5_1 d*q + m
  Q4_K / Q5_K  (d*sc)*q - (dmin*m)         Q6_K  (d*sc)*(q-32)
so the C implementation must agree bit for bit.
"""

import numpy as np

# ggml type id -> (name, elements per block, bytes per block)
BLOCKS = {
    2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20), 6: ("Q5_0", 32, 22), 7: ("Q5_1", 32, 24),
    8: ("Q8_0", 32, 34), 12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176),
    14: ("Q6_K", 256, 210),
}
F32 = np.float32


def _blocks(raw, nbytes):
    b = np.frombuffer(raw, dtype=np.uint8)
    if b.size % nbytes:
        raise ValueError("%d bytes is not a whole number of %d-byte blocks" % (b.size, nbytes))
    return b.reshape(-1, nbytes)


def _f16(b, col):
    """fp16 at byte column `col` of every block, as float32 column vector."""
    return b[:, col:col + 2].copy().view("<f2").astype(F32)


def _nibbles(qs):
    """16 bytes -> 32 values: low nibbles are elements 0..15, high nibbles 16..31."""
    return np.concatenate([qs & 15, qs >> 4], axis=1).astype(np.int32)


def _qh_bits(b, col):
    """The u32 at byte `col`, expanded to 32 bits (bit j is element j's fifth bit)."""
    qh = b[:, col:col + 4].copy().view("<u4").astype(np.uint32)
    return ((qh >> np.arange(32, dtype=np.uint32)) & 1).astype(np.int32)


def q8_0(raw):
    b = _blocks(raw, 34)
    d = _f16(b, 0)
    q = b[:, 2:34].view(np.int8).astype(F32)
    return (d * q).reshape(-1)


def q4_0(raw):
    b = _blocks(raw, 18)
    d = _f16(b, 0)
    q = (_nibbles(b[:, 2:18]) - 8).astype(F32)
    return (d * q).reshape(-1)


def q4_1(raw):
    b = _blocks(raw, 20)
    d, m = _f16(b, 0), _f16(b, 2)
    q = _nibbles(b[:, 4:20]).astype(F32)
    return (d * q + m).reshape(-1)


def q5_0(raw):
    b = _blocks(raw, 22)
    d = _f16(b, 0)
    q = _nibbles(b[:, 6:22]) | (_qh_bits(b, 2) << 4)
    return (d * (q - 16).astype(F32)).reshape(-1)


def q5_1(raw):
    b = _blocks(raw, 24)
    d, m = _f16(b, 0), _f16(b, 2)
    q = _nibbles(b[:, 8:24]) | (_qh_bits(b, 4) << 4)
    return (d * q.astype(F32) + m).reshape(-1)


def _k_scales(s):
    """12 packed bytes per block -> (sc[8], m[8]) 6-bit integers (doc/formats.md, "The K formats")."""
    s = s.astype(np.int32)
    sc = np.empty((s.shape[0], 8), dtype=np.int32)
    m = np.empty((s.shape[0], 8), dtype=np.int32)
    for j in range(4):
        sc[:, j] = s[:, j] & 63
        m[:, j] = s[:, j + 4] & 63
    for j in range(4, 8):
        sc[:, j] = (s[:, j + 4] & 15) | ((s[:, j - 4] >> 6) << 4)
        m[:, j] = (s[:, j + 4] >> 4) | ((s[:, j] >> 6) << 4)
    return sc, m


def _k_affine(b, q, nblk):
    """(d*sc)*q - dmin*m per sub-block of 32; q: [blocks][256] ints in element order."""
    d, dmin = _f16(b, 0), _f16(b, 2)
    sc, m = _k_scales(b[:, 4:16])
    d1 = d * sc.astype(F32)            # [blocks][8]
    m1 = dmin * m.astype(F32)
    q = q.reshape(nblk, 8, 32).astype(F32)
    return (d1[:, :, None] * q - m1[:, :, None]).reshape(-1)


def _k_low4(qs):
    """128 bytes of Q4_K/Q5_K quants -> 256 low-4-bit values in element order: chunk c
    covers elements 64c..64c+63, low nibbles first, then high nibbles."""
    q = np.empty((qs.shape[0], 256), dtype=np.int32)
    for c in range(4):
        chunk = qs[:, 32 * c:32 * c + 32].astype(np.int32)
        q[:, 64 * c:64 * c + 32] = chunk & 15
        q[:, 64 * c + 32:64 * c + 64] = chunk >> 4
    return q


def q4_k(raw):
    b = _blocks(raw, 144)
    q = _k_low4(b[:, 16:144])
    return _k_affine(b, q, b.shape[0])


def q5_k(raw):
    b = _blocks(raw, 176)
    q = _k_low4(b[:, 48:176])
    qh = b[:, 16:48].astype(np.int32)
    for c in range(4):
        q[:, 64 * c:64 * c + 32] |= ((qh >> (2 * c)) & 1) << 4
        q[:, 64 * c + 32:64 * c + 64] |= ((qh >> (2 * c + 1)) & 1) << 4
    return _k_affine(b, q, b.shape[0])


def q6_k(raw):
    b = _blocks(raw, 210)
    n = b.shape[0]
    q = np.empty((n, 256), dtype=np.int32)
    for h in range(2):
        ql = b[:, 64 * h:64 * h + 64].astype(np.int32)
        qh = b[:, 128 + 32 * h:128 + 32 * h + 32].astype(np.int32)
        base = 128 * h
        q[:, base + 0:base + 32] = (ql[:, 0:32] & 15) | ((qh & 3) << 4)
        q[:, base + 32:base + 64] = (ql[:, 32:64] & 15) | (((qh >> 2) & 3) << 4)
        q[:, base + 64:base + 96] = (ql[:, 0:32] >> 4) | (((qh >> 4) & 3) << 4)
        q[:, base + 96:base + 128] = (ql[:, 32:64] >> 4) | (((qh >> 6) & 3) << 4)
    sc = b[:, 192:208].view(np.int8).astype(F32)          # [n][16], one per 16 elements
    d = _f16(b, 208)
    ds = d * sc                                            # (d*sc) first
    q = (q - 32).astype(F32).reshape(n, 16, 16)
    return (ds[:, :, None] * q).reshape(-1)


DEQUANT = {2: q4_0, 3: q4_1, 6: q5_0, 7: q5_1, 8: q8_0, 12: q4_k, 13: q5_k, 14: q6_k}


def dequantize(ggml_type, raw):
    """float32 values of a quantized tensor's raw bytes, in storage order."""
    fn = DEQUANT.get(ggml_type)
    if fn is None:
        raise ValueError("no dequantizer for ggml type %d" % ggml_type)
    return fn(bytes(raw))
