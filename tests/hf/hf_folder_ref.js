// hf_folder_ref.js OUT - Hugging Face's ids for the published-layout test folders that
// `test_hf_folder --write OUT` wrote: each folder's tokenizer.json is loaded by the real
// tokenizers library (npm @anush008/tokenizers); a folder with only the slow files
// (Dream's) gets the tokenizer.json transformers builds from them for a Qwen2Tokenizer
// (NFC, the Qwen2 Split regex, ByteLevel without its regex, the BPE vocabulary and merges,
// the added tokens of tokenizer_config.json). Every test string (tests/tok/hf_strings.js)
// is encoded with and without the special tokens, and with the post-processor's tokens
// where there is a template, into OUT/ref.txt: "<folder> <difflm flags> <hex> <ids>".
'use strict';
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('@anush008/tokenizers');
const strings = require('../tok/hf_strings.js');

const out = process.argv[2];
const QWEN2 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const readJson = (dir, name) => JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8'));

function fromSlowFiles(dir) {
    const cfg = readJson(dir, 'tokenizer_config.json');
    if (cfg.tokenizer_class !== 'DreamTokenizer' && cfg.tokenizer_class !== 'Qwen2Tokenizer')
        throw new Error(`${dir}: tokenizer_class ${cfg.tokenizer_class}`);
    const merges = fs.readFileSync(path.join(dir, 'merges.txt'), 'utf8').split('\n')
        .filter((l, i) => l.length && !(i === 0 && l.startsWith('#version')));
    const bl = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };
    return {
        version: '1.0', truncation: null, padding: null,
        added_tokens: Object.entries(cfg.added_tokens_decoder).map(([id, t]) => Object.assign({ id: +id }, t)),
        normalizer: { type: 'NFC' },
        pre_tokenizer: { type: 'Sequence', pretokenizers: [
            { type: 'Split', pattern: { Regex: QWEN2 }, behavior: 'Isolated', invert: false }, bl] },
        post_processor: bl, decoder: bl,
        model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
            fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab: readJson(dir, 'vocab.json'), merges },
    };
}

const hex = (s) => Buffer.from(s, 'utf8').toString('hex');
(async () => {
    const lines = [];
    const names = fs.readdirSync(out).filter((n) => fs.existsSync(path.join(out, n, 'config.json'))).sort();
    for (const name of names) {
        const dir = path.join(out, name);
        const tj = fs.existsSync(path.join(dir, 'tokenizer.json')) ? readJson(dir, 'tokenizer.json') : fromSlowFiles(dir);
        const template = JSON.stringify(tj.post_processor || null).includes('Template');
        // without its special tokens: how difflm encodes without PARSE_SPECIAL
        const plain = Object.assign({}, tj, { added_tokens: tj.added_tokens.filter((a) => !a.special) });
        for (const [j, flags] of [[tj, 2], [plain, 0]]) {
            // the library numbers added tokens that the vocabulary lacks on from its size,
            // whatever their "id" says, which collides with these vocabularies' ids (the
            // added ones come first): listed in the vocabulary too, they keep their ids
            const vocab = Object.assign({}, j.model.vocab);
            for (const a of j.added_tokens) vocab[a.content] = a.id;
            const t = Tokenizer.fromString(JSON.stringify(Object.assign({}, j,
                { model: Object.assign({}, j.model, { vocab }) })));
            for (const a of j.added_tokens)
                if (t.tokenToId(a.content) !== a.id) throw new Error(`${name}: ${a.content} is not ${a.id}`);
            for (const s of strings)
                for (const add of template ? [false, true] : [false]) {
                    const e = await t.encode(s, null, { addSpecialTokens: add });
                    lines.push(`${name} ${flags | (add ? 1 : 0)} ${hex(s) || '-'} ${e.getIds().join(' ')}`);
                }
        }
    }
    fs.writeFileSync(path.join(out, 'ref.txt'), lines.join('\n') + '\n');
    console.log(`hf_folder_ref: ${names.length} folders, ${strings.length} strings, ${lines.length} encodings`);
})().catch((e) => { console.error(e); process.exit(1); });
