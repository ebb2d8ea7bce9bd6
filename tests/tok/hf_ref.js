// hf_ref.js - reference ids from the real Hugging Face tokenizers library (npm
// @anush008/tokenizers, its Rust core). Builds tokenizer.json folders from the
// repository's vocabularies (tests/tok/data/tokenizers) into OUT, encodes the test
// strings with each, and writes OUT/ref.txt: "<folder> <difflm flags> <text hex> <ids>".
// Run by tests/tok/hf_compare.sh; test_tok_hf.c compares difflm with ref.txt.
'use strict';
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('@anush008/tokenizers');

const [src, out] = process.argv.slice(2);
const data = path.join(src, 'tests/tok/data/tokenizers');
const readJson = (p) => JSON.parse(fs.readFileSync(path.join(data, p), 'utf8'));
const readMerges = (p) => fs.readFileSync(path.join(data, p), 'utf8').split('\n')
    .filter((l, i) => l.length && !(i === 0 && l.startsWith('#version')));

const qwenVocab = readJson('dream-v0-instruct-7b/vocab.json');
const qwenMerges = readMerges('dream-v0-instruct-7b/merges.txt');
const dreamCfg = readJson('dream-v0-instruct-7b/tokenizer_config.json');
const qwenAdded = Object.entries(dreamCfg.added_tokens_decoder).map(([id, t]) => ({
    id: +id, content: t.content, single_word: t.single_word, lstrip: t.lstrip, rstrip: t.rstrip,
    normalized: t.normalized, special: t.special }));
const gpt2Vocab = readJson('gpt2/gpt2-vocab.json');
const gpt2Merges = readMerges('gpt2/gpt2-merges.txt');

const QWEN2 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const LLAMA3 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const BL = (prefix, regex) => ({ type: 'ByteLevel', add_prefix_space: prefix, trim_offsets: false, use_regex: regex });
const bpe = (vocab, merges, ignore) => ({ type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '',
    end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, ignore_merges: ignore, vocab, merges });
const tok = (added, normalizer, pre, post, model) => ({ version: '1.0', truncation: null, padding: null,
    added_tokens: added, normalizer, pre_tokenizer: pre, post_processor: post, decoder: BL(false, false), model });
const tmpl = (name, id, eos) => ({ type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: name, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }]
        .concat(eos ? [{ SpecialToken: { id: eos[0], type_id: 0 } }] : []),
    pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
    special_tokens: Object.assign({ [name]: { id: name, ids: [id], tokens: [name] } },
        eos ? { [eos[0]]: { id: eos[0], ids: [eos[1]], tokens: [eos[0]] } } : {}) });
const added = (id, content, special, o = {}) => Object.assign({ id, content, single_word: false, lstrip: false,
    rstrip: false, normalized: !special, special }, o);

// GPT-2 vocabulary with hand-made added tokens (ids after 50256)
const gpt2Added = [added(50256, '<|endoftext|>', true),
    added(50257, '<mask>', true, { lstrip: true }), added(50258, '[SEP]', true, { rstrip: true }),
    added(50259, 'foo', false, { single_word: true }), added(50260, '<x>', false, { lstrip: true, rstrip: true }),
    added(50261, 'abc!', false, { normalized: true })];
const gpt2VocabNoEot = Object.assign({}, gpt2Vocab);
delete gpt2VocabNoEot['<|endoftext|>'];
const gpt2Pairs = gpt2Merges.map((m) => m.split(' '));

const T = {
    qwen2: tok(qwenAdded, { type: 'NFC' }, { type: 'Sequence', pretokenizers: [
        { type: 'Split', pattern: { Regex: QWEN2 }, behavior: 'Isolated', invert: false }, BL(false, false)] },
        BL(false, false), bpe(qwenVocab, qwenMerges, false)),
    llama3: tok(qwenAdded, null, { type: 'Sequence', pretokenizers: [
        { type: 'Split', pattern: { Regex: LLAMA3 }, behavior: 'Isolated', invert: false }, BL(false, false)] },
        { type: 'Sequence', processors: [BL(true, false), tmpl('<|beginoftext|>', 151665)] },
        bpe(qwenVocab, qwenMerges.map((m) => m.split(' ')), true)),
    gpt2: tok([added(50256, '<|endoftext|>', true)], null, BL(false, true), null, bpe(gpt2VocabNoEot, gpt2Merges, false)),
    digits: tok(gpt2Added, { type: 'Sequence', normalizers: [{ type: 'NFKC' }] }, { type: 'Sequence', pretokenizers: [
        { type: 'Digits', individual_digits: true }, BL(true, true)] },
        tmpl('<|endoftext|>', 50256, ['[SEP]', 50258]), bpe(gpt2VocabNoEot, gpt2Pairs, false)),
    runs: tok(gpt2Added, null, { type: 'Sequence', pretokenizers: [
        { type: 'Digits', individual_digits: false }, { type: 'Split', pattern: { Regex: '[0-9]+|[a-c]' },
            behavior: 'MergedWithNext', invert: false }, BL(false, true)] }, null, bpe(gpt2VocabNoEot, gpt2Merges, false)),
};
for (const beh of ['Isolated', 'Removed', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous'])
    for (const inv of [false, true])
        T[`split_${beh}_${inv ? 'inv' : 'plain'}`] = tok([added(50256, '<|endoftext|>', true)], null,
            { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { String: ' ' }, behavior: beh, invert: inv },
                BL(false, false)] }, null, bpe(gpt2VocabNoEot, gpt2Merges, false));

// ---- test strings (hf_strings.js; tests/tok/data/hf_strings.hex must list the same)
const strings = require('./hf_strings.js');
const listed = fs.readFileSync(path.join(src, 'tests/tok/data/hf_strings.hex'), 'utf8').trim().split('\n');
if (listed.join('\n') !== strings.map((t) => Buffer.from(t, 'utf8').toString('hex') || '-').join('\n'))
    throw new Error('tests/tok/data/hf_strings.hex differs from hf_strings.js: regenerate it');

const hex = (s) => Buffer.from(s, 'utf8').toString('hex');
(async () => {
    const lines = [];
    for (const [name, tj] of Object.entries(T)) {
        const dir = path.join(out, name);
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tj));
        // the same without its special tokens: how difflm encodes without PARSE_SPECIAL
        const plain = Object.assign({}, tj, { added_tokens: tj.added_tokens.filter((a) => !a.special) });
        const variants = [[tj, 2], [plain, 0]];
        for (const [j, flags] of variants) {
            const t = Tokenizer.fromString(JSON.stringify(j));
            // tokenizers numbers added tokens on from the vocabulary, whatever their "id"
            // says: map its ids back to the ones the file names
            const back = new Map();
            for (const a of j.added_tokens) back.set(t.tokenToId(a.content), a.id);
            for (const s of strings) {
                for (const add of [false, true]) {
                    if (add && !(j.post_processor && JSON.stringify(j.post_processor).includes('Template'))) continue;
                    const e = await t.encode(s, null, { addSpecialTokens: add });
                    const mask = e.getSpecialTokensMask();   // the template's tokens keep their ids
                    lines.push(`${name} ${flags | (add ? 1 : 0)} ${hex(s) || '-'} ${e.getIds().map((i, k) => (!mask[k] && back.has(i) ? back.get(i) : i)).join(' ')}`);
                }
            }
        }
    }
    fs.writeFileSync(path.join(out, 'ref.txt'), lines.join('\n') + '\n');
    console.log(`hf_ref: ${Object.keys(T).length} tokenizers, ${strings.length} strings, ${lines.length} encodings`);
})().catch((e) => { console.error(e); process.exit(1); });
