/* layer_rows.h - the elementwise tasks of the layers (layers.c) and their backward twins
 * (layers_backward.c): fixed chunks of rows, so that the chunk size, never the thread
 * count, decides which rows go together. */
#ifndef DL_MODEL_LAYER_ROWS_H
#define DL_MODEL_LAYER_ROWS_H

#include <stddef.h>
#include <stdint.h>

typedef struct dl_rows_job {
    float *out, *out2, *part;
    const float *in, *in2, *in3, *w;
    float eps;
    int R, C, chunk;
    const int32_t *seg_start;   /* [n_seg + 1] the rows' segments, a batch's canvases
                                 * (NULL: one segment of R rows) */
    int n_seg;
} dl_rows_job;

/* The rows of task `task`: chunks of j->chunk rows from each segment's start (the last
 * chunk of a segment may be short), segments in order. Returns how many, and sets *off
 * to their first element. */
static inline int dl_rows_job_rows(const dl_rows_job *j, int task, size_t *off) {
    int r0 = task * j->chunk, end = j->R;
    for (int s = 0; j->seg_start && s < j->n_seg; s++) {
        int len = j->seg_start[s + 1] - j->seg_start[s];
        int tasks = (len + j->chunk - 1) / j->chunk;
        if (task < tasks) {
            r0 = j->seg_start[s] + task * j->chunk;
            end = j->seg_start[s + 1];
            break;
        }
        task -= tasks;
    }
    *off = (size_t)r0 * (size_t)j->C;
    return end - r0 < j->chunk ? end - r0 : j->chunk;
}

#endif
