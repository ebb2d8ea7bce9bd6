/* api_fixture.h - what the API tests share: the two fixture models (api-llada.gguf and
 * api-dream.gguf, the first two arguments of every test here) opened through the public
 * API only, and a generation run to its end. The tests link only the shared library, like
 * a host, and so does this.
 *
 * A call here that cannot do what it says prints why on stderr and exits with status 1:
 * that fails the Check test that called it (forked or, under valgrind, not) and the tests
 * written without Check alike. */
#ifndef DL_TESTS_API_FIXTURE_H
#define DL_TESTS_API_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "difflm.h"

enum { API_LLADA = 0, API_DREAM = 1 };
/* api_model_path[API_LLADA], [API_DREAM]: argv[1] and argv[2], set by api_fixture_args. */
extern const char *api_model_path[2];

/* Takes argv[1] and argv[2] as the LLaDA and the Dream model. Returns 0, or prints a usage
 * line (the two models, then more_usage, which names n_more further arguments) and
 * returns 2 when argc is short: main returns that. */
int api_fixture_args(int argc, char **argv, int n_more, const char *more_usage);

/* difflm_create on path, asserting the status is OK. n_threads and max_canvas as in
 * difflm_params (0 = its defaults). Free with difflm_free. */
difflm_ctx *api_open(const char *path, int32_t n_threads, int32_t max_canvas);
/* difflm_model_load of path (default model params), asserting OK. */
difflm_model *api_load(const char *path);
/* difflm_ctx_create on m, asserting OK; parameters as in api_open. */
difflm_ctx *api_ctx(difflm_model *m, int32_t n_threads, int32_t max_canvas);
/* The context's model info, asserting difflm_model_info_get is OK. */
difflm_model_info api_info(difflm_ctx *ctx);

/* difflm_gen_params_init, then the three lengths every test sets. */
void api_gen(difflm_gen_params *g, int32_t gen_length, int32_t steps, int32_t block_length);
/* difflm_generate_step until it returns anything but OK; returns that status. *n_ok (may
 * be NULL) counts the steps that returned OK. */
int api_steps(difflm_ctx *ctx, int *n_ok);
/* difflm_generate_begin, then the steps: the status they end with (begin's when it fails).
 * At DONE the canvas is read into canvas[0 .. *n_canvas) (asserted OK). *n_steps (may be
 * NULL) counts every step called, the one that returned DONE included. */
int api_run(difflm_ctx *ctx, const difflm_token *prompt, size_t n, const difflm_gen_params *g,
            difflm_token *canvas, size_t cap, size_t *n_canvas, int *n_steps);

#endif
