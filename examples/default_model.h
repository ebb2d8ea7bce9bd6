/* default_model.h - where the CLI and the examples find the project's trained model when
 * no model is named: $DIFFLM_MODEL, then the source tree (a build-tree program), then the
 * installed data directory. The paths come from meson (default_model_args). */
#ifndef DIFFLM_DEFAULT_MODEL_H
#define DIFFLM_DEFAULT_MODEL_H

#include <stdlib.h>
#include <unistd.h>

#ifndef DIFFLM_DEFAULT_MODEL
#define DIFFLM_DEFAULT_MODEL "models/difflm-default.gguf"
#endif
#ifndef DIFFLM_INSTALLED_MODEL
#define DIFFLM_INSTALLED_MODEL DIFFLM_DEFAULT_MODEL
#endif

static inline const char *difflm_default_model(void) {
    const char *env = getenv("DIFFLM_MODEL");
    if (env && *env)
        return env;
    return access(DIFFLM_DEFAULT_MODEL, R_OK) == 0 ? DIFFLM_DEFAULT_MODEL : DIFFLM_INSTALLED_MODEL;
}

#endif
