// hf_strings.js - the tokenizer test strings (scripts, emoji, combining marks, digits,
// whitespace runs, special tokens), each alone, after a space and before a newline, then
// 60 pseudo-random ones. Source of tests/tok/data/hf_strings.hex, which the C tests read
// (regenerate: node tests/tok/hf_strings.js > tests/tok/data/hf_strings.hex; the tok_hf
// test fails when the two disagree). Used by hf_ref.js and tests/hf/hf_folder_ref.js.
'use strict';
const base = [
    'Hello world', 'Hello, world! How are you today?', 'The quick brown fox jumps over the lazy dog.',
    "I'm sure you'll agree: it's 3.14159, not 22/7!", "WE'LL SEE. They'VE said I'D go.", "'s 'S 'ſ 'st don't",
    'Numbers: 1 12 123 1234 12345 1234567890', 'x 5 y  6', '  two leading spaces', 'trailing spaces   ',
    'a\n\n  b', 'line one\nline two\r\nline three\n', '\ttab\tseparated\tvalues', 'hello!!\n\nworld',
    '(parenthesised) [bracketed] {braced}', 'def f(x):\n    return x ** 2  # square\n', 'int main(void) { return 0; }',
    'https://example.com/path?query=1&x=y', 'email@example.org, phone +1-555-0100',
    'café naïve résumé über', 'cafe\u0301 nai\u0308ve re\u0301sume\u0301', 'e\u0301\u0301 a\u0323\u0307 \u1e0b\u0323',
    'ﬁne ﬂow ½ ² Ⅻ ㎏ ｆｕｌｌ', 'Привет, мир!', 'Γειά σου Κόσμε', '你好，世界！今天天气很好。', 'こんにちは世界', '안녕하세요 세계',
    'مرحبا بالعالم ٣٤', 'שלום עולם', 'नमस्ते दुनिया १२३', 'สวัสดีชาวโลก', 'ሰላም ዓለም',
    '😀👍🏽 emoji ❤️ test', '👨‍👩‍👧‍👦 family 🇺🇸 flag', '\u{1D2C0}\u{1D2C1}\u{1D2C2} Kaktovik 𝋀1', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟙𝟚𝟛',
    '\u00a0nbsp\u00a0 \u2003em\u3000ideographic', '\u2028line sep\u2029para', 'zero\u200bwidth\u200djoiner',
    'Supercalifragilisticexpialidocious antidisestablishmentarianism', '...  ---  ___  ***  !!!  ???',
    'She said "don\'t" and left.', '    indented code block', '\n', ' ', '  ', '\r\n\r\n', '   \n   \n\n  x',
    'mixed123abc456', '٣٤٥ ۱۲۳ ௧௨ ①②③ ¹²³', 'x\u0085y', '\u00ad soft hyphen',
    '<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n', 'Hello<|endoftext|> world', '<|endoftext|><|endoftext|>',
    '<tool_call>{"a": 1}</tool_call>', 'a<|fim_prefix|>b<|fim_suffix|>c<|fim_middle|>', '<|mask|><|mask|> x <|mask|>',
    'text <mask> more  <mask>', '[SEP]   after [SEP]x', 'foo food foo_bar (foo) afoo foo', 'a <x>  b<x>c   <x>',
    'abc! abc!abc', 'ﬁabc! ａｂｃ!', '<|im_start|', '<|endoftext', 'x<|im_end|>y<tool_call>z',
    '1+1=2, 10*10=100; 3.5e-7', '2024-01-15T12:34:56Z', '$100.00 €50 ¥1000 £5', 'a.b.c a-b-c a_b_c a/b/c',
    'C:\\Users\\name\\file.txt', '<html><body>Hi</body></html>', 'x' + ' '.repeat(40) + 'y',
    'word '.repeat(30), '9'.repeat(50), 'ab'.repeat(40),
];
const strings = [];
for (const s of base) {
    strings.push(s);
    strings.push(' ' + s);
    strings.push(s + '\n');
}
// pseudo-random strings from an alphabet of interesting characters
const alpha = ['a', 'b', 'c', 'foo', ' ', '  ', '\n', '\t', '1', '23', '٣', '𝋀', 'é', 'e\u0301', 'ﬁ', '你', 'の', '😀', "'", "'s",
    '!', '.', '<|im_end|>', '<mask>', '[SEP]', '<x>', 'abc!', '<|endoftext|>', '\u00a0', 'Ж', 'ß', 'İ'];
let seed = 12345;
const rnd = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
for (let i = 0; i < 60; i++) {
    let s = '';
    const k = 1 + rnd(12);
    for (let j = 0; j < k; j++) s += alpha[rnd(alpha.length)];
    strings.push(s);
}

module.exports = strings;
if (require.main === module)
    for (const t of strings) console.log(Buffer.from(t, 'utf8').toString('hex') || '-');
