/* text.h - a canvas as displayable text: glyphs with a style, and their word wrap. */
#ifndef DIFFLM_CLI_TEXT_H
#define DIFFLM_CLI_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "difflm.h"

/* What a masked position shows: U+2591 LIGHT SHADE, one column. */
#define CLI_MASK_GLYPH "\xe2\x96\x91"

/* UNSURE / DOUBTFUL: committed with a probability below CLI_SURE_PROB / CLI_UNSURE_PROB
 * (shade.h). */
enum cli_style { CLI_STYLE_PROMPT, CLI_STYLE_TEXT, CLI_STYLE_MASK, CLI_STYLE_UNSURE,
                 CLI_STYLE_DOUBTFUL };

/* Where a line may break: before and after spaces and masked positions, never inside a
 * run of word glyphs; always at a newline. */
enum cli_class { CLI_WORD, CLI_SPACE, CLI_NEWLINE, CLI_MASKED };

typedef struct cli_glyph {
    char bytes[4];      /* one UTF-8 character (none for a newline) */
    uint8_t len, width; /* bytes, terminal columns */
    uint8_t style, cls; /* enum cli_style, enum cli_class */
} cli_glyph;

typedef struct cli_layout {
    cli_glyph *g;
    size_t n, cap;
    size_t *line;       /* after cli_layout_wrap: line k is g[line[2k] .. line[2k+1]) */
    size_t n_lines, line_cap;
    int wcwidth_ok;     /* the locale is UTF-8, so wcwidth() knows the widths */
    int failed;         /* an allocation failed: the layout is incomplete */
} cli_layout;

/* Empties the layout (keeping its memory). */
void cli_layout_clear(cli_layout *l);
void cli_layout_free(cli_layout *l);

/* Appends UTF-8 text in one style. Tabs become spaces, other control characters are
 * dropped, malformed bytes become U+FFFD. */
void cli_layout_text(cli_layout *l, const char *s, size_t n, enum cli_style style);

/* Appends the generated part of a canvas (canvas[from .. n)): runs of committed tokens
 * detokenized together (so a character split across tokens stays whole), a masked
 * position as CLI_MASK_GLYPH, nothing from the first committed EOS / end-of-turn on
 * (the final text is cut there too). */
void cli_layout_canvas(cli_layout *l, difflm_ctx *ctx, const difflm_model_info *mi,
                       const difflm_token *canvas, size_t n, size_t from);

/* Breaks the glyphs into lines of at most width columns, at spaces and masks; a word
 * longer than a line is cut where the line ends. */
void cli_layout_wrap(cli_layout *l, int width);

/* Calls emit for each run of the canvas's generated part, as cli_layout_canvas sees
 * it: committed text (masked = 0) or one masked position (masked = 1, no bytes). Returns
 * the number of masked positions, or -1 if a detokenize call failed. */
typedef void (*cli_emit_fn)(const char *bytes, size_t n, int masked, void *user);
long cli_canvas_runs(difflm_ctx *ctx, const difflm_model_info *mi, const difflm_token *canvas,
                     size_t n, size_t from, cli_emit_fn emit, void *user);

#endif
