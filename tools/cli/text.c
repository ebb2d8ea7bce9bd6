/* text.c - a canvas as text the live view can lay out: detokenized runs, placeholders
 * for masked positions, UTF-8 split into glyphs with their widths, and word wrap. */
#include "text.h"

#include <stdlib.h>
#include <string.h>
#include <wchar.h>

void cli_layout_clear(cli_layout *l) {
    l->n = 0;
    l->n_lines = 0;
    l->failed = 0;
}

void cli_layout_free(cli_layout *l) {
    free(l->g);
    free(l->line);
    *l = (cli_layout){0};
}

static cli_glyph *push_glyph(cli_layout *l) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        cli_glyph *g = realloc(l->g, cap * sizeof *g);
        if (!g) {
            l->failed = 1;
            return NULL;
        }
        l->g = g;
        l->cap = cap;
    }
    cli_glyph *g = &l->g[l->n++];
    memset(g, 0, sizeof *g);
    return g;
}

/* Decodes one UTF-8 character at s[0..n): its code point and length, or -1 (and 1) for a
 * malformed or truncated sequence. */
static long decode_utf8(const unsigned char *s, size_t n, size_t *len) {
    static const long min_of[5] = {0, 0, 0x80, 0x800, 0x10000};
    unsigned char c = s[0];
    size_t k = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
             : (c & 0xf8) == 0xf0 ? 4 : 0;
    *len = 1;
    if (k == 0 || k > n)
        return -1;
    long cp = k == 1 ? c : c & (0x7f >> k);
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return -1;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min_of[k] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return -1;
    *len = k;
    return cp;
}

static int glyph_width(const cli_layout *l, long cp) {
    if (cp < 0x80 || !l->wcwidth_ok)
        return 1;
    int w = wcwidth((wchar_t)cp);
    return w < 0 ? 1 : w;  /* unknown to the locale: assume one column */
}

void cli_layout_text(cli_layout *l, const char *s, size_t n, enum cli_style style) {
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k;
        long cp = decode_utf8(u + i, n - i, &k);
        int cls = CLI_WORD;
        if (cp == '\n') {
            cls = CLI_NEWLINE;
        } else if (cp == ' ' || cp == '\t') {
            cls = CLI_SPACE;
        } else if ((cp >= 0 && cp < 0x20) || (cp >= 0x7f && cp < 0xa0)) {
            i += k;  /* a control character would move the cursor: drop it */
            continue;
        }
        cli_glyph *g = push_glyph(l);
        if (!g)
            return;
        g->style = (uint8_t)style;
        g->cls = (uint8_t)cls;
        if (cls == CLI_NEWLINE) {
            g->width = 0;
        } else if (cls == CLI_SPACE) {
            g->bytes[0] = ' ';
            g->len = g->width = 1;
        } else if (cp < 0) {
            memcpy(g->bytes, "\xef\xbf\xbd", 3);  /* U+FFFD for a malformed byte */
            g->len = 3;
            g->width = 1;
        } else {
            memcpy(g->bytes, u + i, k);
            g->len = (uint8_t)k;
            g->width = (uint8_t)glyph_width(l, cp);
        }
        i += k;
    }
}

static void add_mask(cli_layout *l) {
    cli_glyph *g = push_glyph(l);
    if (!g)
        return;
    memcpy(g->bytes, CLI_MASK_GLYPH, 3);
    g->len = 3;
    g->width = 1;
    g->style = CLI_STYLE_MASK;
    g->cls = CLI_MASKED;
}

static int is_end(const difflm_model_info *mi, difflm_token t) {
    return (mi->eos_id >= 0 && t == mi->eos_id) || (mi->eot_id >= 0 && t == mi->eot_id);
}

long cli_canvas_runs(difflm_ctx *ctx, const difflm_model_info *mi, const difflm_token *canvas,
                     size_t n, size_t from, cli_emit_fn emit, void *user) {
    char small[256], *buf = small;
    size_t cap = sizeof small;
    long masked = 0;
    size_t i = from;
    while (i < n && !is_end(mi, canvas[i])) {
        if (canvas[i] == mi->mask_id) {
            emit(NULL, 0, 1, user);
            masked++;
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && canvas[j] != mi->mask_id && !is_end(mi, canvas[j]))
            j++;
        size_t got = 0;
        int rc = difflm_detokenize(ctx, canvas + i, j - i, 0, buf, cap, &got);
        if (rc == DIFFLM_E_BUFFER_TOO_SMALL) {
            char *bigger = malloc(got);
            if (bigger) {
                if (buf != small)
                    free(buf);
                buf = bigger;
                cap = got;
                rc = difflm_detokenize(ctx, canvas + i, j - i, 0, buf, cap, &got);
            }
        }
        if (rc != DIFFLM_OK) {
            masked = -1;
            break;
        }
        emit(buf, got, 0, user);
        i = j;
    }
    if (buf != small)
        free(buf);
    return masked;
}

static void emit_to_layout(const char *bytes, size_t n, int masked, void *user) {
    if (masked)
        add_mask(user);
    else
        cli_layout_text(user, bytes, n, CLI_STYLE_TEXT);
}

void cli_layout_canvas(cli_layout *l, difflm_ctx *ctx, const difflm_model_info *mi,
                       const difflm_token *canvas, size_t n, size_t from) {
    cli_canvas_runs(ctx, mi, canvas, n, from, emit_to_layout, l);
}

static void push_line(cli_layout *l, size_t start, size_t end) {
    if (l->n_lines == l->line_cap) {
        size_t cap = l->line_cap ? 2 * l->line_cap : 64;
        size_t *line = realloc(l->line, 2 * cap * sizeof *line);
        if (!line) {
            l->failed = 1;
            return;
        }
        l->line = line;
        l->line_cap = cap;
    }
    l->line[2 * l->n_lines] = start;
    l->line[2 * l->n_lines + 1] = end;
    l->n_lines++;
}

/* The glyphs g[i .. end) of a word, cut into lines of width; returns the column reached
 * on the last line. A glyph wider than the line goes alone. */
static int place_word(cli_layout *l, size_t *start, size_t i, size_t end, int col, int width) {
    while (i < end) {
        int w = l->g[i].width;
        if (col > 0 && col + w > width) {
            push_line(l, *start, i);
            *start = i;
            col = 0;
        }
        col += w;
        i++;
    }
    return col;
}

void cli_layout_wrap(cli_layout *l, int width) {
    if (width < 1)
        width = 1;
    l->n_lines = 0;
    size_t start = 0, i = 0;
    int col = 0;
    while (i < l->n) {
        const cli_glyph *g = &l->g[i];
        if (g->cls == CLI_NEWLINE) {
            push_line(l, start, i);
            start = ++i;
            col = 0;
            continue;
        }
        if (g->cls == CLI_SPACE) {
            if (col + g->width > width) {  /* the space the line breaks at is not shown */
                push_line(l, start, i);
                start = ++i;
                col = 0;
            } else {
                col += g->width;
                i++;
            }
            continue;
        }
        size_t j = i + 1;
        int w = g->width;
        while (g->cls == CLI_WORD && j < l->n && l->g[j].cls == CLI_WORD)
            w += l->g[j++].width;
        if (col > 0 && col + w > width) {  /* the word goes to the next line whole */
            push_line(l, start, i);
            start = i;
            col = 0;
        }
        col = place_word(l, &start, i, j, col, width);
        i = j;
    }
    push_line(l, start, l->n);
}
