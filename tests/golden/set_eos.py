#!/usr/bin/env python3
"""Copies a GGUF model and changes its tokenizer.ggml.eos_token_id.

usage: set_eos.py IN OUT ID

The tiny random models never predict their real EOS, so early stop (which ends at the
first committed EOS) would never fire on them; giving EOS the id of a token the model
predicts often makes it fire. The value is a u32 overwritten in place (same size).
"""
import struct
import sys

KEY = b"tokenizer.ggml.eos_token_id"
GGUF_U32 = 4


def main():
    src, dst, new_id = sys.argv[1], sys.argv[2], int(sys.argv[3])
    data = bytearray(open(src, "rb").read())
    needle = struct.pack("<Q", len(KEY)) + KEY
    at = data.find(needle)
    if at < 0 or data.find(needle, at + 1) >= 0:
        sys.exit("set_eos.py: %s: key %s not found exactly once" % (src, KEY.decode()))
    at += len(needle)
    vtype, = struct.unpack_from("<I", data, at)
    if vtype != GGUF_U32:
        sys.exit("set_eos.py: %s: %s has type %d, not u32" % (src, KEY.decode(), vtype))
    struct.pack_into("<I", data, at + 4, new_id)
    open(dst, "wb").write(bytes(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
