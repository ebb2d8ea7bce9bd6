/* prompt.h - where the CLI's prompt comes from (-p, -f FILE, standard input,
 * --prompt-ids) and how it becomes token ids. */
#ifndef DIFFLM_CLI_PROMPT_H
#define DIFFLM_CLI_PROMPT_H

#include <stddef.h>

#include "args.h"
#include "difflm.h"

/* The prompt as text: -p's, -f FILE's ("-" = standard input), or standard input's when
 * no prompt option is given and it is not a terminal; "" when none of these. A file's or
 * standard input's trailing newlines are dropped (as the shell's $(cat FILE) does).
 * NULL for --prompt-ids. Returns 0 with *text malloc'd and NUL-terminated, or -1 with a
 * message on stderr. */
int cli_prompt_text(const cli_args *a, char **text, size_t *len);

/* The prompt's ids: --prompt-ids as given, else text through the chat template (--chat)
 * or with BOS when the model adds one. Returns 0 with *ids malloc'd, or -1 with a
 * message on stderr. */
int cli_prompt_tokens(difflm_ctx *ctx, const cli_args *a, const char *text, size_t len,
                      difflm_token **ids, size_t *n);

#endif
