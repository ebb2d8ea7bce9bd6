/* args.h - the difflm CLI's options: parsing and the checks that need no model. */
#ifndef DIFFLM_CLI_ARGS_H
#define DIFFLM_CLI_ARGS_H

#include <stdio.h>

#include "difflm.h"

/* Exit statuses of the CLI (documented in --help). */
#define CLI_EXIT_OK 0
#define CLI_EXIT_ERROR 1
#define CLI_EXIT_USAGE 2
#define CLI_EXIT_INTERRUPTED 130 /* 128 + SIGINT, what a shell reports for Ctrl-C */

typedef struct cli_args {
    const char *model;
    const char *prompt;       /* -p TEXT */
    const char *prompt_file;  /* -f FILE ("-" = stdin) */
    const char *prompt_ids;   /* --prompt-ids LIST */
    const char *infill;       /* --infill TEMPLATE ("The<mask:4> sat.") */
    const char *canvas_ids;   /* --canvas-ids LIST: a whole canvas, MASK ids to fill */
    int print_confidences;    /* --print-confidences: a line per step */
    int chat, print_ids, live, verbose, stats;
    int steps_given;          /* --steps was on the command line (else it follows -n) */
    int logits_eos_inf, conf_eos_eot_inf, early_stop, all_logits, block_recompute;
    int32_t n_threads, max_canvas, mask_id;
    int32_t precision;        /* --precision: DIFFLM_PRECISION_* */
    int32_t pack_weights;     /* --pack-weights: DIFFLM_PACK_* */
    float threshold, factor;  /* < 0: not given */
    difflm_gen_params g;
} cli_args;

/* What cli_parse decided. */
#define CLI_RUN 0
#define CLI_DONE 1   /* --help or --version printed: exit 0 */
#define CLI_USAGE 2  /* a message went to stderr: exit CLI_EXIT_USAGE */

/* Fills *a from argv (defaults first; live = stdout_tty). Every value is checked
 * against the range the library accepts, or the CLI's stricter one, before any model is
 * loaded; messages name the option and the constraint. */
int cli_parse(cli_args *a, int argc, char **argv, int stdout_tty);

/* The checks that need the loaded model and the prompt's length, made before
 * difflm_generate_begin so that the message names the option and the real constraint.
 * Returns 0, or -1 with a message on stderr. */
/* 1 when the canvas comes whole (--infill, --canvas-ids), not as prompt + -n. */
int cli_canvas_mode(const cli_args *a);

int cli_check_model(const cli_args *a, const difflm_model_info *mi, size_t n_prompt);

void cli_usage(FILE *f);

#endif
