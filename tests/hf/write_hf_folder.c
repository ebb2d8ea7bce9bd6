/* write_hf_folder - IN.gguf DIR [SHARDS [MASK_ID]]: the Hugging Face folder of a test GGUF
 * (hf_folder.c), for the command-line tests of difflm-convert (tests/cli). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "hf_folder.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: write_hf_folder IN.gguf DIR [SHARDS [MASK_ID]]\n");
        return 2;
    }
    dl_err err;
    dl_gguf *g;
    if (dl_gguf_open(&g, argv[1], &err)) {
        fprintf(stderr, "write_hf_folder: %s\n", err.msg);
        return 1;
    }
    mkdir(argv[2], 0755);
    hf_folder_opts o = { argc > 3 ? atoi(argv[3]) : 1, argc > 4 ? atoi(argv[4]) : 5, 1 };
    int rc = hf_write_folder(g, argv[2], &o);
    dl_gguf_close(g);
    return rc ? 1 : 0;
}
