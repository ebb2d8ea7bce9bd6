/* layer_rows.h - the elementwise tasks of the layers (layers.c) and their backward twins
 * (layers_backward.c): fixed chunks of rows, so that the chunk size, never the thread
 * count, decides which rows go together. */
#ifndef DL_MODEL_LAYER_ROWS_H
#define DL_MODEL_LAYER_ROWS_H

#include <stddef.h>

typedef struct dl_rows_job {
    float *out, *out2, *part;
    const float *in, *in2, *in3, *w;
    float eps;
    int R, C, chunk;
} dl_rows_job;

/* The rows of task `task`: returns how many, and sets *off to their first element. */
static inline int dl_rows_job_rows(const dl_rows_job *j, int task, size_t *off) {
    int r0 = task * j->chunk;
    *off = (size_t)r0 * (size_t)j->C;
    return j->R - r0 < j->chunk ? j->R - r0 : j->chunk;
}

#endif
