/* live.c - the live view. Each frame goes back to the first row of the previous one
 * (cursor up, relative, so whatever the shell printed above stays) and overwrites it.
 * A frame has at most as many rows as the terminal, so after the first frames have
 * grown to the terminal's height nothing scrolls: the canvas scrolls inside the frame
 * (its last lines are shown) instead of the terminal scrolling each frame into the
 * scrollback. Lines are one column narrower than the terminal: a line that fills the
 * last column leaves the cursor in the terminal's pending-wrap state, where the
 * erase-to-end-of-line that ends each line would erase that column's character. */
#include "live.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static void put(cli_live *v, const char *s, size_t n) {
    if (v->n + n > v->cap) {
        size_t cap = v->cap ? v->cap : 4096;
        while (cap < v->n + n)
            cap *= 2;
        char *out = realloc(v->out, cap);
        if (!out) {
            v->failed = 1;
            return;
        }
        v->out = out;
        v->cap = cap;
    }
    memcpy(v->out + v->n, s, n);
    v->n += n;
}

static void put_str(cli_live *v, const char *s) {
    put(v, s, strlen(s));
}

static void flush(cli_live *v) {
    size_t done = 0;
    while (done < v->n) {
        ssize_t w = write(v->fd, v->out + done, v->n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;  /* the terminal went away: nothing useful to do */
        done += (size_t)w;
    }
    v->n = 0;
}

static void term_size(int fd, int *rows, int *cols) {
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
        *rows = ws.ws_row;
        *cols = ws.ws_col;
    } else {
        *rows = 24;
        *cols = 80;
    }
}

static const char *style_sgr(int style) {
    switch (style) {
    case CLI_STYLE_PROMPT: return "\033[0;1m"; /* bold */
    case CLI_STYLE_MASK: return "\033[0;2m";   /* dim */
    case CLI_STYLE_UNSURE: return "\033[0;33m"; /* yellow */
    case CLI_STYLE_DOUBTFUL: return "\033[0;31m"; /* red */
    default: return "\033[0m";
    }
}

/* Line k of the layout, styled, its rest of the row erased. */
static void put_line(cli_live *v, const cli_layout *t, size_t k) {
    int style = -1;
    for (size_t i = t->line[2 * k]; i < t->line[2 * k + 1]; i++) {
        const cli_glyph *g = &t->g[i];
        if (g->style != style)
            put_str(v, style_sgr(style = g->style));
        put(v, g->bytes, g->len);
    }
    put_str(v, "\033[0m\033[K");
}

/* Moves to column 0 of the previous frame's first row. After a resize the terminal may
 * have rewrapped that frame, so the rows to go up are unknown: clear the screen. */
static void go_to_frame_start(cli_live *v, int rows, int cols) {
    if (v->rows_drawn > 0 && (rows != v->rows || cols != v->cols)) {
        put_str(v, "\033[H\033[2J");
        return;
    }
    put_str(v, "\r");
    if (v->rows_drawn > 1) {
        char up[32];
        snprintf(up, sizeof up, "\033[%dA", v->rows_drawn - 1);
        put_str(v, up);
    }
}

void cli_live_frame(cli_live *v, cli_layout *text, const char *head, const char *tail) {
    int rows, cols;
    term_size(v->fd, &rows, &cols);
    cli_layout_wrap(text, cols > 1 ? cols - 1 : 1);
    if (v->rows_drawn == 0)
        put_str(v, "\033[?25l");  /* hide the cursor while frames are drawn */
    go_to_frame_start(v, rows, cols);
    size_t budget = rows > 1 ? (size_t)rows - 1 : 0;  /* one row for the status */
    size_t first = text->n_lines > budget ? text->n_lines - budget : 0;
    for (size_t k = first; k < text->n_lines; k++) {
        put_line(v, text, k);
        put_str(v, "\r\n");
    }
    char line[256];
    int len = first > 0 ? snprintf(line, sizeof line, " %s  %zu rows above  %s ", head, first, tail)
                        : snprintf(line, sizeof line, " %s  %s ", head, tail);
    /* ASCII only; two columns short of the edge, so the "^C" the terminal echoes after
     * it cannot wrap onto a new row */
    int room = cols > 3 ? cols - 3 : 1;
    if (len < 0)
        len = 0;
    if (len > (int)sizeof line - 1)
        len = (int)sizeof line - 1;
    if (len > room)
        len = room;
    put_str(v, "\033[0;7m");
    put(v, line, (size_t)len);
    put_str(v, "\033[0m\033[K\033[J");
    v->rows_drawn = (int)(text->n_lines - first) + 1;
    v->rows = rows;
    v->cols = cols;
    flush(v);
}

void cli_live_end(cli_live *v, cli_layout *text) {
    int rows, cols;
    term_size(v->fd, &rows, &cols);
    cli_layout_wrap(text, cols > 1 ? cols - 1 : 1);
    if (v->rows_drawn > 0) {
        go_to_frame_start(v, rows, cols);
        put_str(v, "\033[J");
    }
    for (size_t k = 0; k < text->n_lines; k++) {
        put_line(v, text, k);
        put_str(v, "\n");
    }
    put_str(v, CLI_SHOW_CURSOR);
    v->rows_drawn = 0;
    flush(v);
}

void cli_live_free(cli_live *v) {
    free(v->out);
    v->out = NULL;
    v->n = v->cap = 0;
}
