/* bytes_unicode.c - GPT-2's byte alphabet and a strict UTF-8 decoder.
 *
 * Byte-level BPE vocabularies spell every byte as a printable character so that token
 * texts are readable strings: bytes that already print as themselves in Latin-1
 * ('!'..'~', 0xA1..0xAC, 0xAE..0xFF) keep their code point; the other 68 take U+0100,
 * U+0101, ... in increasing byte order. Tests check the closed
 * form below against that rule, computed the slow way. */
#include "tok/tok_internal.h"

static int byte_keeps_itself(unsigned b) {
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
}

/* The bytes that do not keep themselves form three runs: 0x00..0x20 (33 bytes),
 * 0x7F..0xA0 (34 bytes) and 0xAD; their stand-ins are numbered on from U+0100. */
static uint32_t byte_code_point(uint8_t b) {
    if (byte_keeps_itself(b)) return b;
    if (b <= 0x20) return 0x100 + b;
    if (b <= 0xA0) return 0x100 + 33 + (uint32_t)(b - 0x7F);
    return 0x100 + 67;   /* 0xAD, the soft hyphen */
}

int dl_byte_to_utf8(char out[2], uint8_t b) {
    uint32_t cp = byte_code_point(b);
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xC0 | (cp >> 6));   /* every stand-in is below U+0800 */
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

int dl_unicode_to_byte(uint32_t cp) {
    if (cp < 0x100) return byte_keeps_itself(cp) ? (int)cp : -1;
    uint32_t r = cp - 0x100;
    if (r < 33) return (int)r;
    if (r < 67) return (int)(0x7F + r - 33);
    if (r == 67) return 0xAD;
    return -1;
}

int dl_utf8_next(const uint8_t *s, size_t n, uint32_t *cp) {
    if (n == 0) return 0;
    uint8_t c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    int len;
    uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF) { len = 2; v = c & 0x1F; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; v = c & 0x0F; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; v = c & 0x07; min = 0x10000; }
    else return 0;   /* continuation byte, overlong lead C0/C1, or F5..FF */
    if ((size_t)len > n) return 0;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return len;
}
