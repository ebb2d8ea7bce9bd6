/* live.h - the CLI's live view: the canvas redrawn in place on a terminal. */
#ifndef DIFFLM_CLI_LIVE_H
#define DIFFLM_CLI_LIVE_H

#include <stddef.h>

#include "text.h"

typedef struct cli_live {
    int fd;              /* the terminal (standard output) */
    int rows, cols;      /* the size the last frame was drawn for */
    int rows_drawn;      /* rows of the last frame, the cursor on its last; 0 = none yet */
    char *out;           /* the frame being built, written with one write() */
    size_t n, cap;
    int failed;
} cli_live;

/* Draws one frame: the layout's last lines that fit above a status line, so the frame
 * never has more rows than the terminal and never scrolls it once it has its full
 * height; the previous frame is overwritten in place. The layout is wrapped here to the
 * terminal's current width. The status line is head, how many rows are above the view
 * (when some are), then tail, cut at the terminal's width. */
void cli_live_frame(cli_live *v, cli_layout *text, const char *head, const char *tail);

/* Replaces the last frame with the whole layout (every line, the terminal scrolling as
 * ordinary output does) and a newline, and shows the cursor again. */
void cli_live_end(cli_live *v, cli_layout *text);

/* The escape sequence that shows the cursor, for a signal handler to write(). */
#define CLI_SHOW_CURSOR "\033[?25h"

void cli_live_free(cli_live *v);

#endif
