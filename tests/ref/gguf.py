"""A small, independent GGUF reader for the reference program.

Written from doc/formats.md ("GGUF container layout", "Tensor types and file types"),
not from difflm's C reader, so that the two can check each other. It reads versions 2
and 3 (they share one little-endian layout; version 1 used 32-bit lengths and is
refused), every metadata value type, and tensors of type F32, F16 and BF16 as numpy
arrays in numpy order (the reverse of GGUF's fastest-first dimension list); quantized
tensors are dequantized by quants.py.

Everything is checked against the file size before use; a malformed file raises
GGUFError naming what is wrong.
"""

import struct

import numpy as np

import quants

GGUF_MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32

# Metadata value type ids.
T_U8, T_I8, T_U16, T_I16, T_U32, T_I32, T_F32, T_BOOL = 0, 1, 2, 3, 4, 5, 6, 7
T_STRING, T_ARRAY, T_U64, T_I64, T_F64 = 8, 9, 10, 11, 12

# Fixed-size scalar value types: struct format (little-endian).
_SCALAR_FMT = {
    T_U8: "<B", T_I8: "<b", T_U16: "<H", T_I16: "<h", T_U32: "<I", T_I32: "<i",
    T_F32: "<f", T_BOOL: "<B", T_U64: "<Q", T_I64: "<q", T_F64: "<d",
}
# The same as numpy dtypes, for reading numeric arrays in one go.
_SCALAR_NP = {
    T_U8: "<u1", T_I8: "<i1", T_U16: "<u2", T_I16: "<i2", T_U32: "<u4", T_I32: "<i4",
    T_F32: "<f4", T_BOOL: "<u1", T_U64: "<u8", T_I64: "<i8", T_F64: "<f8",
}

# ggml tensor types: id -> (name, elements per block, bytes per block).
GGML_TYPES = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22), 7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 36),
    10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110), 12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292),
    30: ("BF16", 1, 2),
}
GGML_F32, GGML_F16, GGML_BF16 = 0, 1, 30


class GGUFError(ValueError):
    pass


class Tensor:
    """One tensor's header entry; `array()` decodes its data."""

    def __init__(self, name, ne, ggml_type, offset, nbytes, reader):
        self.name = name
        self.ne = ne              # GGUF order: fastest-varying first
        self.type = ggml_type
        self.offset = offset      # absolute file offset of the data
        self.nbytes = nbytes
        self._reader = reader

    @property
    def shape(self):
        """numpy order (slowest first), trailing unit dims of ne dropped as written."""
        return tuple(reversed(self.ne))

    @property
    def type_name(self):
        return GGML_TYPES[self.type][0]

    def array(self, dtype=np.float64):
        return self._reader.tensor_array(self, dtype)


class _Cursor:
    def __init__(self, buf):
        self.buf = buf
        self.pos = 0

    def take(self, n, what):
        if n < 0 or self.pos + n > len(self.buf):
            raise GGUFError("%s at offset %d: needs %d bytes, file has %d"
                            % (what, self.pos, n, len(self.buf) - self.pos))
        p = self.pos
        self.pos += n
        return p

    def scalar(self, vtype, what):
        fmt = _SCALAR_FMT[vtype]
        p = self.take(struct.calcsize(fmt), what)
        return struct.unpack_from(fmt, self.buf, p)[0]

    def string(self, what):
        n = self.scalar(T_U64, what + " length")
        p = self.take(n, what)
        try:
            return bytes(self.buf[p:p + n]).decode("utf-8")
        except UnicodeDecodeError as e:
            raise GGUFError("%s at offset %d is not UTF-8: %s" % (what, p, e))


class GGUFReader:
    """Parses a whole GGUF file held in memory (bytes) or read from `path`."""

    def __init__(self, path=None, data=None):
        if data is None:
            with open(path, "rb") as f:
                data = f.read()
        self.data = memoryview(data)
        self.kv = {}            # key -> python value (arrays: list or numpy array)
        self.kv_types = {}      # key -> value type id (arrays: (T_ARRAY, elem type))
        self.tensors = {}       # name -> Tensor, in header order (dicts keep order)
        self._parse()

    # ---- parsing

    def _value(self, c, vtype, what):
        if vtype in _SCALAR_FMT:
            v = c.scalar(vtype, what)
            if vtype == T_BOOL:
                if v not in (0, 1):
                    raise GGUFError("%s: bool value %d is not 0 or 1" % (what, v))
                v = bool(v)
            return v
        if vtype == T_STRING:
            return c.string(what)
        if vtype == T_ARRAY:
            et = c.scalar(T_U32, what + " element type")
            n = c.scalar(T_U64, what + " element count")
            if et == T_ARRAY:
                raise GGUFError("%s: arrays of arrays are not allowed" % what)
            if et == T_STRING:
                return [c.string("%s[%d]" % (what, i)) for i in range(n)]
            if et not in _SCALAR_NP:
                raise GGUFError("%s: unknown array element type %d" % (what, et))
            size = np.dtype(_SCALAR_NP[et]).itemsize
            if n > len(c.buf):   # cheap guard before multiplying
                raise GGUFError("%s: element count %d exceeds the file" % (what, n))
            p = c.take(n * size, what)
            arr = np.frombuffer(c.buf, dtype=_SCALAR_NP[et], count=n, offset=p).copy()
            if et == T_BOOL:
                if np.any(arr > 1):
                    raise GGUFError("%s: bool element not 0 or 1" % what)
                arr = arr.astype(bool)
            return arr
        raise GGUFError("%s: unknown value type %d" % (what, vtype))

    def _parse(self):
        c = _Cursor(self.data)
        p = c.take(4, "magic")
        if bytes(self.data[p:p + 4]) != GGUF_MAGIC:
            raise GGUFError("bad magic %r" % bytes(self.data[p:p + 4]))
        self.version = c.scalar(T_U32, "version")
        if self.version not in (2, 3):
            raise GGUFError("unsupported GGUF version %d" % self.version)
        n_tensors = c.scalar(T_U64, "tensor_count")
        n_kv = c.scalar(T_U64, "kv_count")
        # Each kv needs at least 12 bytes and each tensor info at least 24.
        if n_kv * 12 + n_tensors * 24 > len(self.data):
            raise GGUFError("counts (%d kv, %d tensors) exceed the file size" % (n_kv, n_tensors))

        for i in range(n_kv):
            key = c.string("key %d" % i)
            if not key:
                raise GGUFError("key %d is empty" % i)
            if key in self.kv:
                raise GGUFError("duplicate key '%s'" % key)
            vtype = c.scalar(T_U32, "type of key '%s'" % key)
            if vtype == T_ARRAY:
                save = c.pos
                et = c.scalar(T_U32, key)
                c.pos = save
                self.kv_types[key] = (T_ARRAY, et)
            else:
                self.kv_types[key] = vtype
            self.kv[key] = self._value(c, vtype, "value of '%s'" % key)

        self.alignment = DEFAULT_ALIGNMENT
        if "general.alignment" in self.kv:
            if self.kv_types["general.alignment"] != T_U32:
                raise GGUFError("general.alignment is not a u32")
            a = self.kv["general.alignment"]
            if a == 0 or (a & (a - 1)) != 0:
                raise GGUFError("general.alignment %d is not a power of two" % a)
            self.alignment = a

        infos = []
        for i in range(n_tensors):
            name = c.string("name of tensor %d" % i)
            if len(name.encode("utf-8")) >= 64:
                raise GGUFError("tensor name '%s' is 64 bytes or longer" % name)
            if name in self.tensors or any(name == x[0] for x in infos):
                raise GGUFError("duplicate tensor '%s'" % name)
            n_dims = c.scalar(T_U32, "n_dims of '%s'" % name)
            if not 1 <= n_dims <= 4:
                raise GGUFError("tensor '%s' has %d dims" % (name, n_dims))
            ne = [c.scalar(T_I64, "dim %d of '%s'" % (d, name)) for d in range(n_dims)]
            if any(x < 0 for x in ne):
                raise GGUFError("tensor '%s' has a negative dim %s" % (name, ne))
            ttype = c.scalar(T_U32, "type of '%s'" % name)
            if ttype not in GGML_TYPES:
                raise GGUFError("tensor '%s' has unknown type %d" % (name, ttype))
            off = c.scalar(T_U64, "offset of '%s'" % name)
            _, bs, ts = GGML_TYPES[ttype]
            if ne[0] % bs != 0:
                raise GGUFError("tensor '%s': ne[0]=%d not a multiple of block size %d"
                                % (name, ne[0], bs))
            count = 1
            for x in ne:
                count *= x
            if count >= 2 ** 63:
                raise GGUFError("tensor '%s' has too many elements" % name)
            nbytes = count // bs * ts
            infos.append((name, ne, ttype, off, nbytes))

        data_start = -(-c.pos // self.alignment) * self.alignment
        self.data_start = data_start
        expect = 0
        for name, ne, ttype, off, nbytes in infos:
            # The strict rule: offsets are the running sum of aligned sizes.
            if off != expect:
                raise GGUFError("tensor '%s' has offset %d, expected %d" % (name, off, expect))
            if data_start + off + nbytes > len(self.data):
                raise GGUFError("tensor '%s' data [%d, %d) runs past the end of the file (%d)"
                                % (name, data_start + off, data_start + off + nbytes,
                                   len(self.data)))
            self.tensors[name] = Tensor(name, ne, ttype, data_start + off, nbytes, self)
            expect += -(-nbytes // self.alignment) * self.alignment

    # ---- access

    def get(self, key, default=None):
        return self.kv.get(key, default)

    def tensor(self, name):
        t = self.tensors.get(name)
        if t is None:
            raise GGUFError("missing tensor '%s'" % name)
        return t

    def tensor_array(self, t, dtype=np.float64):
        """Decodes a tensor to a numpy array of `dtype` in numpy order (slowest first)."""
        count = 1
        for x in t.ne:
            count *= x
        shape = tuple(reversed(t.ne))
        raw = self.data[t.offset:t.offset + t.nbytes]
        if t.type == GGML_F32:
            a = np.frombuffer(raw, dtype="<f4", count=count)
        elif t.type == GGML_F16:
            a = np.frombuffer(raw, dtype="<f2", count=count)
        elif t.type == GGML_BF16:
            # bf16 is the top half of an f32: widen by shifting into the high bits.
            u = np.frombuffer(raw, dtype="<u2", count=count).astype(np.uint32) << 16
            a = u.view(np.float32)
        elif t.type in quants.DEQUANT:
            a = quants.dequantize(t.type, raw)   # float32, doc/formats.md, "Quantized block layouts"
        else:
            raise GGUFError("tensor '%s': type %s is not supported by the reference"
                            % (t.name, t.type_name))
        return a.astype(dtype).reshape(shape)


def read(path):
    return GGUFReader(path=path)
