/* jinja_names.c - the filters, tests, methods and functions the subset implements, by
 * name (the ids index the switch statements of jinja_eval.c), and the globals it
 * refuses because Hugging Face would give them a value the subset cannot. */
#include <string.h>

#include "tok/jinja_internal.h"

static int find(const char *const *names, const char *s, size_t n) {
    for (int k = 0; names[k]; k++)
        if (strlen(names[k]) == n && memcmp(names[k], s, n) == 0) return k;
    return -1;
}

/* order: enum jf in jinja_eval.c */
int dl_jinja_filter_id(const char *s, size_t n) {
    static const char *const names[] = {"trim", "length", "count", "tojson", "upper", "lower", "default", "d",
                                        "string", NULL};
    return find(names, s, n);
}

int dl_jinja_test_id(const char *s, size_t n) {
    static const char *const names[] = {"defined", "undefined", "none", "string", "number", "integer", "mapping",
                                        "sequence", "iterable", "boolean", NULL};
    return find(names, s, n);
}

int dl_jinja_method_id(const char *s, size_t n) {
    static const char *const names[] = {"strip", "lstrip", "rstrip", "startswith", "endswith", "split", "upper",
                                        "lower", "get", NULL};
    return find(names, s, n);
}

int dl_jinja_func_id(const char *s, size_t n) {
    static const char *const names[] = {"raise_exception", "namespace", "range", NULL};
    return find(names, s, n);
}

int dl_jinja_global_unsupported(const char *s, size_t n) {
    /* Jinja's and HF's other globals, and the special tokens HF passes that difflm does
     * not know as HF does: a template testing them would take another branch. */
    static const char *const names[] = {"dict", "lipsum", "cycler", "joiner", "strftime_now", "unk_token",
                                        "pad_token", "mask_token", "sep_token", "cls_token",
                                        "additional_special_tokens", "self", "varargs", "kwargs", "caller", NULL};
    return find(names, s, n) >= 0;
}
