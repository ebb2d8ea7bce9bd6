/* The public header must compile as strict C99 with every warning on. */
#include "difflm.h"

int main(void) {
    difflm_params p;
    difflm_params_init(&p);
    return p.struct_size == sizeof p && difflm_version_number() == DIFFLM_VERSION_NUMBER ? 0 : 1;
}
