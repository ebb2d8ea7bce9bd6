/* sched_priv.h - inside lib/sched: what infill.c needs of the state machine in sched.c
 * (the struct stays private to sched.c). */
#ifndef DL_SCHED_PRIV_H
#define DL_SCHED_PRIV_H

#include <stdint.h>

#include "sched/sched.h"

/* Ends any generation (as a begin does first) and returns the canvas buffer
 * ([max_canvas]) a begin lays its canvas into before dl_sched_start. */
int32_t *dl_sched_reset(dl_sched *s);

void dl_sched_limits(const dl_sched *s, int32_t *max_canvas, int32_t *n_vocab, int32_t *mask_id);

/* begin's parameter checks (E_INVALID_ARG naming the bad one), p->gen_length set. */
int dl_sched_check(const dl_sched *s, const dl_sched_params *p, dl_err *err);

/* Starts a generation over the canvas already in dl_sched_canvas_buffer()[0 .. len):
 * its MASK positions are the generated ones (p->gen_length of them, at least one),
 * every other position is fixed. p has passed check_params; cannot fail. */
int dl_sched_start(dl_sched *s, const dl_sched_params *p, int32_t len);

#endif
