#!/usr/bin/env python3
"""make_hf_seeds.py - writes the seed corpora of the Hugging Face harnesses:
fuzz/corpus/{safetensors,hfconfig,tokjson,jinja}/ (doc/testing.md, "Fuzzing").

Real inputs first: the tiny-model folders make_hf_seeds (fuzz/make_hf_seeds.c) writes,
their truncations, the repository's real tokenizer_config.json and chat templates, the
templates of tests/tok/test_jinja_ref.py; then small hand-made variants for the branches
those do not reach (unusable dtypes, high ranks, every pipeline type the loader knows).
Files named regress-* (the campaign's findings) and campaign-* (its minimized corpus,
libFuzzer -merge=1) are never touched here.

usage: fuzz/make_hf_seeds.py BUILD_DIR   (after meson compile -C BUILD_DIR fuzz/make_hf_seeds)
"""
import ast
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)


def out_dir(target):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        if not f.startswith(("regress-", "campaign-")):
            os.remove(os.path.join(d, f))
    return d


def write(d, name, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def cuts(data, points):
    """Truncations at the given byte counts (negative: from the end), deduplicated."""
    seen = set()
    for p in points:
        n = p if p >= 0 else len(data) + p
        if 0 < n < len(data) and n not in seen:
            seen.add(n)
            yield n, data[:n]


def safetensors(header, data):
    h = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(h)) + h + data


def st_seeds(folders):
    d = out_dir("safetensors")
    files = {
        "llada": read(os.path.join(folders, "llada", "model.safetensors")),
        "dream": read(os.path.join(folders, "dream", "model.safetensors")),
        "dream-shard1": read(os.path.join(folders, "dream-sharded", "model-00001-of-00002.safetensors")),
        "dream-shard2": read(os.path.join(folders, "dream-sharded", "model-00002-of-00002.safetensors")),
    }
    for name, data in files.items():
        write(d, name + ".safetensors", data)
    llada = files["llada"]
    hn = struct.unpack("<Q", llada[:8])[0]
    for n, cut in cuts(llada, [4, 8, 9, 64, 8 + hn // 2, 8 + hn - 1, 8 + hn, 8 + hn + 100, -1]):
        write(d, "llada-cut%d.safetensors" % n, cut)
    f32 = struct.pack("<4f", 1, 2, 3, 4)
    write(d, "empty.safetensors", safetensors({}, b""))
    write(d, "metadata.safetensors", safetensors({"__metadata__": {"format": "pt"},
                                                  "a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}, f32))
    write(d, "dtypes.safetensors", safetensors({
        "f16": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]},
        "bf16": {"dtype": "BF16", "shape": [1, 2], "data_offsets": [4, 8]},
        "i64": {"dtype": "I64", "shape": [1], "data_offsets": [8, 16]},
        "f4": {"dtype": "F4", "shape": [2], "data_offsets": [16, 16]},
        "scalar": {"dtype": "U8", "shape": [], "data_offsets": [16, 17]},
        "zero": {"dtype": "F32", "shape": [0, 3], "data_offsets": [17, 17]},
        "rank5": {"dtype": "F32", "shape": [1, 1, 1, 1, 1], "data_offsets": [20, 24]},
    }, bytes(24)))
    write(d, "overlap.safetensors", safetensors({
        "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
        "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, bytes(12)))


def cfg_seeds(folders):
    d = out_dir("hfconfig")
    for arch in ("llada", "dream"):
        cfg = read(os.path.join(folders, arch, "config.json"))
        gen = read(os.path.join(folders, arch, "generation_config.json"))
        write(d, arch + "-config.json", cfg)
        write(d, arch + "-with-gen", cfg + b"\0" + gen)
        for n, cut in cuts(cfg, [1, len(cfg) // 3, len(cfg) // 2, -2]):
            write(d, "%s-cut%d" % (arch, n), cut)
    # the published configs' keys (LLaDA-8B-Instruct, Dream-v0-Instruct-7B)
    llada8b = {"architectures": ["LLaDAModelLM"], "model_type": "llada", "d_model": 4096, "n_layers": 32,
               "n_heads": 32, "n_kv_heads": 32, "mlp_hidden_size": 12288, "mlp_ratio": 4,
               "max_sequence_length": 4096, "vocab_size": 126464, "embedding_size": 126464,
               "rope_theta": 500000.0, "rms_norm_eps": 1e-05, "weight_tying": False,
               "mask_token_id": 126336, "eos_token_id": 126081, "pad_token_id": 126081}
    dream7b = {"architectures": ["DreamModel"], "model_type": "Dream", "hidden_size": 3584,
               "intermediate_size": 18944, "num_attention_heads": 28, "num_hidden_layers": 28,
               "num_key_value_heads": 4, "vocab_size": 152064, "max_position_embeddings": 131072,
               "rope_theta": 1000000.0, "rms_norm_eps": 1e-06, "rope_scaling": None,
               "tie_word_embeddings": False, "mask_token_id": 151666, "bos_token_id": 151643,
               "eos_token_id": 151643, "pad_token_id": 151643}
    gen = {"bos_token_id": 151643, "eos_token_id": [151643, 151645], "transformers_version": "4.46.2"}
    write(d, "llada-8b.json", json.dumps(llada8b, indent=2))
    write(d, "dream-7b-with-gen", json.dumps(dream7b, indent=2).encode() + b"\0" + json.dumps(gen).encode())
    variants = {
        "head-dim": dict(dream7b, head_dim=256),
        "kv-null": dict(llada8b, n_kv_heads=None),
        "rope-scaling": dict(dream7b, rope_scaling={"type": "yarn", "factor": 4.0}),
        "eos-list": dict(llada8b, eos_token_id=[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
        "no-ctx": {k: v for k, v in dream7b.items() if k != "max_position_embeddings"},
        "types": dict(llada8b, d_model=4096.0, rms_norm_eps="1e-5"),
    }
    for name, v in variants.items():
        write(d, name + ".json", json.dumps(v))
    write(d, "dup-key.json", '{"model_type": "llada", "model_type": "Dream"}')
    write(d, "not-object.json", "[1, 2]")


def tok_seeds(folders):
    d = out_dir("tokjson")
    texts = [b"Hello, world! don't 12345", b"<|im_start|>user\nhi<|im_end|>\n<|endoftext|>",
             "caf\u00e9  \u65e5\u672c \U0001F600\t\n\n".encode(), b"\xff\xfe\x80 broken utf-8 \xc3"]

    def fast(tj, cfg=b"", stm=b"", txt=texts):
        return b"\0" + tj + b"\0" + cfg + b"\0" + stm + b"\0" + b"\0".join(txt)

    tj = read(os.path.join(folders, "llada", "tokenizer.json"))
    cfg = read(os.path.join(folders, "llada", "tokenizer_config.json"))
    write(d, "tiny-fast", fast(tj, cfg))
    write(d, "tiny-fast-nocfg", fast(tj))
    full = fast(tj, cfg)
    for n, cut in cuts(full, [2, 100, len(tj) // 2, len(tj), len(tj) + 50]):
        write(d, "tiny-fast-cut%d" % n, cut)
    # the real LLaDA tokenizer_config.json over the tiny vocabulary (its ids are far
    # outside it: fails, after reading every entry)
    real_cfg = read(os.path.join(SRC, "tests/tok/data/tokenizers/llada-8b-instruct/tokenizer_config.json"))
    write(d, "llada-real-config", fast(tj, real_cfg))
    stm = read(os.path.join(SRC, "tests/tok/data/tokenizers/dream-v0-instruct-7b/special_tokens_map.json"))
    write(d, "dream-stm", fast(tj, b"", stm))

    # pipelines (the types tok_hf_pipeline.c reads), over the tiny vocabulary
    base = json.loads(tj)
    qwen2 = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
             "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")
    bl = lambda p, r: {"type": "ByteLevel", "add_prefix_space": p, "trim_offsets": False, "use_regex": r}
    tmpl = {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<|startoftext|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<|startoftext|>": {"id": "<|startoftext|>", "ids": [0], "tokens": ["<|startoftext|>"]}}}
    pipes = {
        "qwen2": ({"type": "NFC"}, {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": qwen2}, "behavior": "Isolated", "invert": False}, bl(False, False)]},
            bl(False, False)),
        "digits": ({"type": "Sequence", "normalizers": [{"type": "NFKC"}]}, {"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": True}, bl(True, True)]}, tmpl),
        "runs": (None, {"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": False},
            {"type": "Split", "pattern": {"Regex": "[0-9]+|[a-c]"}, "behavior": "MergedWithNext", "invert": False},
            bl(False, True)]}, {"type": "Sequence", "processors": [bl(True, False), tmpl]}),
    }
    for beh in ("Removed", "MergedWithPrevious", "Contiguous"):
        pipes["split-" + beh] = (None, {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"String": " "}, "behavior": beh, "invert": beh == "Removed"},
            bl(False, False)]}, None)
    for name, (norm, pre, post) in pipes.items():
        t = dict(base, normalizer=norm, pre_tokenizer=pre, post_processor=post, decoder=bl(False, False))
        if name == "runs":
            t["model"] = dict(base["model"], merges=[m.split(" ") for m in base["model"]["merges"]], ignore_merges=True)
        write(d, "pipe-" + name, fast(json.dumps(t).encode(), cfg))
    # the slow files of the same vocabulary (Dream's layout)
    vocab = base["model"]["vocab"]
    merges = "#version: 0.2\n" + "\n".join(base["model"]["merges"]) + "\n"
    added = {a["content"]: a["id"] for a in base["added_tokens"]}
    slow_cfg = {"tokenizer_class": "Qwen2Tokenizer", "bos_token": None, "eos_token": "<|endoftext|>",
                "added_tokens_decoder": {str(a["id"]): {k: a[k] for k in ("content", "lstrip", "rstrip", "single_word",
                                                                          "normalized", "special")}
                                         for a in base["added_tokens"]}}
    slow = (b"\x01" + json.dumps(vocab).encode() + b"\0" + merges.encode() + b"\0" + json.dumps(added).encode()
            + b"\0" + json.dumps(slow_cfg).encode() + b"\0" + b"\0".join(texts))
    write(d, "tiny-slow", slow)
    for n, cut in cuts(slow, [len(slow) // 4, len(slow) // 2]):
        write(d, "tiny-slow-cut%d" % n, cut)


def jinja_seeds(folders):
    d = out_dir("jinja")
    tpls = {}
    for name, sub in (("llada", "llada-8b-instruct"), ("dream", "dream-v0-instruct-7b")):
        cfg = json.loads(read(os.path.join(SRC, "tests/tok/data/tokenizers", sub, "tokenizer_config.json")))
        tpls[name + "-real"] = cfg["chat_template"]
    cdir = os.path.join(SRC, "tests/tok/data/chat_templates")
    for fn in sorted(os.listdir(cdir)):
        if fn.endswith(".jinja"):
            tpls[fn[:-6]] = read(os.path.join(cdir, fn)).decode()
    tpls["tiny"] = json.loads(read(os.path.join(folders, "llada", "tokenizer_config.json")))["chat_template"]
    # the constructs of the reference test, as literals (the module imports jinja2)
    tree = ast.parse(read(os.path.join(SRC, "tests/tok/test_jinja_ref.py")))
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") in ("CONSTRUCTS", "ERRORS", "UNSUPPORTED"):
            for i, t in enumerate(ast.literal_eval(node.value)):
                tpls["%s-%02d" % (node.targets[0].id.lower(), i)] = t
    conv = b"\0".join([b"system", b"Be brief.", b"user", b"What is 2+2?", b"assistant", b"4", b"user",
                       "caf\u00e9 <think>x</think>\n".encode()])
    for name, t in tpls.items():
        body = t.encode()
        write(d, name, b"\x03" + body)                       # fixed conversation, specials
        if name.endswith("-real") or name.startswith("constructs-0"):
            write(d, name + "-conv", b"\x05" + body + b"\0" + conv)   # the input's conversation
    for n, cut in cuts(tpls["llada-real"].encode(), [10, 100, 200]):
        write(d, "llada-real-cut%d" % n, b"\x01" + cut)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    tool = os.path.join(sys.argv[1], "fuzz", "make_hf_seeds")
    tmp = tempfile.mkdtemp(prefix="difflm-seeds-")
    try:
        subprocess.run([tool, tmp], check=True)
        st_seeds(tmp)
        cfg_seeds(tmp)
        tok_seeds(tmp)
        jinja_seeds(tmp)
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
