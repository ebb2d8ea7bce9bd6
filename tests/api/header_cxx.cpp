// The public header must compile as C++ (and link: the symbols are extern "C").
#include "difflm.h"

#include <cstdio>

static_assert(sizeof(difflm_token) == 4, "difflm_token is 32 bits");

int main() {
    difflm_params p;
    difflm_params_init(&p);
    difflm_gen_params g;
    difflm_gen_params_init(&g);
    std::printf("difflm %s (ABI %u), %s\n", difflm_version(), difflm_abi_version(),
                difflm_status_str(DIFFLM_E_FORMAT));
    return p.struct_size == sizeof p && g.struct_size == sizeof g &&
                   difflm_abi_version() == DIFFLM_ABI_VERSION
               ? 0
               : 1;
}
