/* jinja_lex.c - template source to tokens, following Jinja's lexer with the settings
 * of Hugging Face's chat templates (trim_blocks, lstrip_blocks, no trailing newline):
 *
 *   - newlines (\r\n, \r, \n) become \n everywhere, string literals included, and one
 *     trailing newline of the source is dropped;
 *   - "{%-", "{{-", "{#-" strip all whitespace before the tag; "-%}", "-}}", "-#}" all
 *     whitespace after it;
 *   - lstrip_blocks: spaces before a "{%" or "{#" that only has whitespace before it on
 *     its line go (unless "{%+");
 *   - trim_blocks: the newline right after "%}" or "#}" goes (unless "+%}");
 *   - inside a tag the end marker only counts where every bracket is closed.
 * "Whitespace" is Python's (str.isspace), as Jinja's regexes use it. */
#include <stdio.h>
#include <string.h>

#include "tok/jinja_internal.h"

typedef struct lexer {
    const char *s;   /* normalized source, in the arena */
    size_t n, pos;
    size_t line_pos; /* line counting is incremental: line holds at line_pos */
    int line;
    jtokens *out;
    jarena *a;
    dl_err *err;
} lexer;

static int line_at(lexer *L, size_t pos) {
    for (; L->line_pos < pos; L->line_pos++) L->line += L->s[L->line_pos] == '\n';
    return L->line;
}

static int push(lexer *L, jtoken t) {
    if (L->out->n == L->out->cap) {
        size_t cap = L->out->cap ? 2 * L->out->cap : 256;
        jtoken *p = dl_realloc(L->out->t, cap * sizeof *p);
        if (!p) return dl_fail(L->err, DIFFLM_E_NOMEM, "chat template: out of memory for tokens");
        L->out->t = p;
        L->out->cap = cap;
    }
    L->out->t[L->out->n++] = t;
    return 0;
}

static int syntax(lexer *L, size_t pos, const char *what) {
    return dl_fail(L->err, DIFFLM_E_FORMAT, "chat template line %d: %s", line_at(L, pos), what);
}

/* Length of the Python whitespace run at s[pos..n). */
static size_t space_run(const char *s, size_t n, size_t pos) {
    size_t i = pos;
    while (i < n) {
        uint32_t cp;
        size_t k = dl_jinja_utf8_char(s + i, n - i, &cp);
        if (!dl_jinja_is_space(cp)) break;
        i += k;
    }
    return i - pos;
}

/* Start of the trailing whitespace of s[0..n). */
static size_t rstrip_at(const char *s, size_t n) {
    size_t end = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = dl_jinja_utf8_char(s + i, n - i, &cp);
        i += k;
        if (!dl_jinja_is_space(cp)) end = i;
    }
    return end;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static size_t put_utf8(char *o, uint32_t cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | cp >> 6); o[1] = (char)(0x80 | (cp & 63)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12); o[1] = (char)(0x80 | ((cp >> 6) & 63));
        o[2] = (char)(0x80 | (cp & 63));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18); o[1] = (char)(0x80 | ((cp >> 12) & 63));
    o[2] = (char)(0x80 | ((cp >> 6) & 63)); o[3] = (char)(0x80 | (cp & 63));
    return 4;
}

/* A string literal at L->pos (the quote). Escapes as Python's unicode-escape codec
 * decodes them, which is what Jinja applies; an unknown escape keeps its backslash. */
static int lex_string(lexer *L) {
    size_t start = L->pos;
    char q = L->s[L->pos++];
    size_t end = L->pos;
    while (end < L->n && L->s[end] != q) end += L->s[end] == '\\' ? 2 : 1;
    if (end >= L->n) return syntax(L, start, "unterminated string literal");
    /* \ooo and \xhh grow at most to 2 bytes from 2..4, \u and \U to 4 from 6..10 */
    char *o = ja_alloc(L->a, end - L->pos + 1);
    if (!o) return dl_fail(L->err, DIFFLM_E_NOMEM, "chat template: out of memory");
    size_t k = 0;
    for (size_t i = L->pos; i < end;) {
        char c = L->s[i];
        if (c != '\\') {
            o[k++] = c;
            i++;
            continue;
        }
        char e = L->s[i + 1];
        i += 2;
        const char *simple = strchr("\\'\"abfnrtv", e);
        if (e == '\n') continue;   /* line continuation */
        if (e && simple) {
            static const char map[] = "\\'\"\a\b\f\n\r\t\v";
            o[k++] = map[simple - "\\'\"abfnrtv"];
            continue;
        }
        uint32_t cp = 0;
        if (e >= '0' && e <= '7') {
            cp = (uint32_t)(e - '0');
            for (int d = 0; d < 2 && i < end && L->s[i] >= '0' && L->s[i] <= '7'; d++)
                cp = cp * 8 + (uint32_t)(L->s[i++] - '0');
        } else if (e == 'x' || e == 'u' || e == 'U') {
            int digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
            for (int d = 0; d < digits; d++) {
                int h = i < end ? hexval(L->s[i]) : -1;
                if (h < 0) return syntax(L, start, "truncated \\x, \\u or \\U escape in a string literal");
                cp = cp * 16 + (uint32_t)h;
                i++;
            }
            if (cp > 0x10FFFF) return syntax(L, start, "\\U escape beyond U+10FFFF");
            if (cp >= 0xD800 && cp <= 0xDFFF)
                return dl_fail(L->err, DIFFLM_E_UNSUPPORTED,
                               "chat template line %d: a surrogate escape in a string literal is not supported",
                               line_at(L, start));
        } else if (e == 'N') {
            return dl_fail(L->err, DIFFLM_E_UNSUPPORTED,
                           "chat template line %d: \\N{...} escapes are not supported", line_at(L, start));
        } else if ((unsigned char)e >= 0x80) {
            /* Jinja backslash-escapes non-ASCII before decoding: "\é" is not "\é" */
            return dl_fail(L->err, DIFFLM_E_UNSUPPORTED,
                           "chat template line %d: a backslash before a non-ASCII character is not supported",
                           line_at(L, start));
        } else {
            o[k++] = '\\';
            o[k++] = e;
            continue;
        }
        k += put_utf8(o + k, cp);
    }
    L->pos = end + 1;
    return push(L, (jtoken){.kind = JT_STRING, .line = line_at(L, start), .p = o, .n = k});
}

static int is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_digit(char c) { return c >= '0' && c <= '9'; }

static const struct { const char *s; uint8_t op; } ops[] = {
    {"//", JOP_FLOORDIV}, {"**", JOP_POW}, {"==", JOP_EQ}, {"!=", JOP_NE}, {"<=", JOP_LE},
    {">=", JOP_GE}, {"+", JOP_ADD}, {"-", JOP_SUB}, {"/", JOP_DIV}, {"*", JOP_MUL},
    {"%", JOP_MOD}, {"~", JOP_TILDE}, {"[", JOP_LBRACK}, {"]", JOP_RBRACK}, {"(", JOP_LPAREN},
    {")", JOP_RPAREN}, {"{", JOP_LBRACE}, {"}", JOP_RBRACE}, {"<", JOP_LT}, {">", JOP_GT},
    {"=", JOP_ASSIGN}, {".", JOP_DOT}, {":", JOP_COLON}, {"|", JOP_PIPE}, {",", JOP_COMMA},
    {";", JOP_SEMI},
};

/* The inside of a {{ }} or {% %} tag, up to and including its end marker. Sets
 * *line_starting as Jinja does: the end marker's match ended with a newline. */
static int lex_tag(lexer *L, int is_block, int *line_starting) {
    char closers[DL_JINJA_MAX_DEPTH];
    int depth = 0;
    size_t tag_start = L->pos;
    for (;;) {
        const char *s = L->s + L->pos;
        size_t left = L->n - L->pos;
        if (depth == 0) {
            char e = is_block ? '%' : '}';
            size_t end = 0;
            int sign = 0;
            if (is_block && left >= 3 && s[0] == '+' && s[1] == '%' && s[2] == '}') end = 3, sign = '+';
            else if (left >= 3 && s[0] == '-' && s[1] == e && s[2] == '}') end = 3, sign = '-';
            else if (left >= 2 && s[0] == e && s[1] == '}') end = 2;
            if (end) {
                int line = line_at(L, L->pos);
                L->pos += end;
                if (sign == '-') L->pos += space_run(L->s, L->n, L->pos);
                else if (!sign && is_block && L->pos < L->n && L->s[L->pos] == '\n') L->pos++;
                *line_starting = L->s[L->pos - 1] == '\n';
                return push(L, (jtoken){.kind = is_block ? JT_BLOCK_END : JT_VAR_END, .line = line});
            }
        }
        size_t ws = space_run(L->s, L->n, L->pos);
        if (ws) {
            L->pos += ws;
            continue;
        }
        if (!left) return syntax(L, tag_start, is_block ? "unclosed {% tag" : "unclosed {{ tag");
        int line = line_at(L, L->pos);
        if (is_name_start(s[0])) {
            size_t k = 1;
            while (k < left && (is_name_start(s[k]) || is_digit(s[k]))) k++;
            L->pos += k;
            int rc = push(L, (jtoken){.kind = JT_NAME, .line = line, .p = s, .n = k});
            if (rc) return rc;
            continue;
        }
        if (is_digit(s[0])) {
            size_t k = 0;
            int64_t v = 0;
            for (; k < left && is_digit(s[k]); k++) {
                if (v > (INT64_MAX - (s[k] - '0')) / 10)
                    return dl_fail(L->err, DIFFLM_E_UNSUPPORTED,
                                   "chat template line %d: integer literal beyond 64 bits", line);
                v = v * 10 + (s[k] - '0');
            }
            if (k < left && (s[k] == '.' || s[k] == 'e' || s[k] == 'E' || s[k] == '_') &&
                k + 1 < left && (is_digit(s[k + 1]) || s[k + 1] == '+' || s[k + 1] == '-'))
                return dl_fail(L->err, DIFFLM_E_UNSUPPORTED,
                               "chat template line %d: float literals (and digit separators) are not supported",
                               line);
            L->pos += k;
            int rc = push(L, (jtoken){.kind = JT_INT, .line = line, .ival = v});
            if (rc) return rc;
            continue;
        }
        if (s[0] == '\'' || s[0] == '"') {
            int rc = lex_string(L);
            if (rc) return rc;
            continue;
        }
        size_t i = 0;
        for (; i < sizeof ops / sizeof ops[0]; i++) {
            size_t k = strlen(ops[i].s);
            if (k <= left && memcmp(s, ops[i].s, k) == 0) break;
        }
        if (i == sizeof ops / sizeof ops[0]) {
            char msg[64];
            snprintf(msg, sizeof msg, "unexpected character 0x%02X in a tag", (unsigned char)s[0]);
            return syntax(L, L->pos, msg);
        }
        uint8_t op = ops[i].op;
        if (op == JOP_LPAREN || op == JOP_LBRACK || op == JOP_LBRACE) {
            if (depth == DL_JINJA_MAX_DEPTH)
                return dl_fail(L->err, DIFFLM_E_UNSUPPORTED, "chat template line %d: brackets nested deeper than %d",
                               line, DL_JINJA_MAX_DEPTH);
            closers[depth++] = op == JOP_LPAREN ? ')' : op == JOP_LBRACK ? ']' : '}';
        } else if (op == JOP_RPAREN || op == JOP_RBRACK || op == JOP_RBRACE) {
            if (!depth || closers[depth - 1] != s[0]) {
                char msg[48];
                snprintf(msg, sizeof msg, "unexpected '%c'", s[0]);
                return syntax(L, L->pos, msg);
            }
            depth--;
        }
        L->pos += strlen(ops[i].s);
        int rc = push(L, (jtoken){.kind = JT_OP, .op = op, .line = line});
        if (rc) return rc;
    }
}

/* Copies src with every newline as \n and one trailing newline dropped. */
static char *normalize(jarena *a, const char *src, size_t n, size_t *n_out) {
    char *o = ja_alloc(a, n + 1);
    if (!o) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (src[i] == '\r') {
            o[k++] = '\n';
            if (i + 1 < n && src[i + 1] == '\n') i++;
        } else {
            o[k++] = src[i];
        }
    }
    if (k && o[k - 1] == '\n') k--;
    *n_out = k;
    return o;
}

int dl_jinja_lex(jtokens *out, jarena *a, const char *src, size_t n, dl_err *err) {
    lexer L = {.out = out, .a = a, .err = err, .line = 1};
    L.s = normalize(a, src, n, &L.n);
    if (!L.s) return dl_fail(err, DIFFLM_E_NOMEM, "chat template: out of memory");
    int line_starting = 1, rc;
    while (L.pos < L.n) {
        size_t tp = L.pos;
        while (tp + 1 < L.n && !(L.s[tp] == '{' && (L.s[tp + 1] == '{' || L.s[tp + 1] == '%' || L.s[tp + 1] == '#')))
            tp++;
        if (tp + 1 >= L.n) {   /* no more tags: the rest is text */
            rc = push(&L, (jtoken){.kind = JT_TEXT, .line = line_at(&L, L.pos), .p = L.s + L.pos, .n = L.n - L.pos});
            if (rc) return rc;
            break;
        }
        char kind = L.s[tp + 1];
        char sign = tp + 2 < L.n && (L.s[tp + 2] == '-' || L.s[tp + 2] == '+') ? L.s[tp + 2] : 0;
        size_t text_n = tp - L.pos;
        const char *text = L.s + L.pos;
        if (sign == '-') {
            text_n = rstrip_at(text, text_n);
        } else if (sign != '+' && kind != '{') {   /* lstrip_blocks */
            size_t l_pos = text_n;
            while (l_pos > 0 && text[l_pos - 1] != '\n') l_pos--;
            if ((l_pos > 0 || line_starting) && l_pos < text_n &&
                space_run(text, text_n, l_pos) == text_n - l_pos)
                text_n = l_pos;
        }
        if (text_n) {
            rc = push(&L, (jtoken){.kind = JT_TEXT, .line = line_at(&L, L.pos), .p = text, .n = text_n});
            if (rc) return rc;
        }
        L.pos = tp + 2 + (sign ? 1 : 0);
        if (kind == '#') {
            size_t q = L.pos;
            while (q + 1 < L.n && !(L.s[q] == '#' && L.s[q + 1] == '}')) q++;
            if (q + 1 >= L.n) return syntax(&L, tp, "unclosed {# comment");
            char before = q > L.pos ? L.s[q - 1] : 0;
            L.pos = q + 2;
            if (before == '-') L.pos += space_run(L.s, L.n, L.pos);
            else if (before != '+' && L.pos < L.n && L.s[L.pos] == '\n') L.pos++;
            line_starting = L.s[L.pos - 1] == '\n';
            continue;
        }
        int is_block = kind == '%';
        rc = push(&L, (jtoken){.kind = is_block ? JT_BLOCK_BEGIN : JT_VAR_BEGIN, .line = line_at(&L, tp)});
        if (rc || (rc = lex_tag(&L, is_block, &line_starting))) return rc;
    }
    return push(&L, (jtoken){.kind = JT_EOF, .line = line_at(&L, L.n)});
}
