/* test_jinja.c - the chat-template interpreter's failure classes and bounds (every one
 * fails with a status and a message naming the cause, nothing leaks: run this binary
 * under valgrind), and dl_tok_set_chat_template's wiring into dl_tok_chat. Rendering
 * itself is compared with jinja2 by test_jinja_ref.py. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tok/jinja.h"
#include "tok/tok.h"
#include "tok_fixture.h"

static const difflm_chat_message M[] = {{"system", "sys"}, {"user", " Hi "}, {"assistant", "Yo"}};

/* Compiles and renders src; returns the first failing status (0 when both succeed). */
static int run(const char *src, char *out, size_t cap, size_t *n, dl_err *err) {
    dl_jinja *j = NULL;
    int rc = dl_jinja_compile(&j, src, strlen(src), err);
    if (rc) return rc;
    dl_jinja_vars v = {.msgs = M, .n_msgs = 3, .add_generation_prompt = 1, .bos_token = "<s>", .eos_token = "</s>"};
    rc = dl_jinja_render(j, &v, out, cap, n, err);
    dl_jinja_free(j);
    return rc;
}

static void expect_fail(const char *src, int status, const char *needle) {
    char out[256];
    size_t n;
    dl_err err = {0};
    int rc = run(src, out, sizeof out, &n, &err);
    ck_assert_msg(rc == status, "%s: status %d, want %d (%s)", src, rc, status, err.msg);
    ck_assert_msg(strstr(err.msg, needle), "%s: message '%s' lacks '%s'", src, err.msg, needle);
}

START_TEST(test_unsupported_names) {
    expect_fail("{{ 'x' | frobnicate }}", DIFFLM_E_UNSUPPORTED, "filter 'frobnicate'");
    expect_fail("{{ 'x' is frob }}", DIFFLM_E_UNSUPPORTED, "test 'frob'");
    expect_fail("{% frob %}", DIFFLM_E_UNSUPPORTED, "tag 'frob'");
    expect_fail("{{ 'x'.frob() }}", DIFFLM_E_UNSUPPORTED, "method 'frob'");
    expect_fail("{{ frob() }}", DIFFLM_E_UNSUPPORTED, "function 'frob'");
    expect_fail("{% macro m() %}{% endmacro %}", DIFFLM_E_UNSUPPORTED, "tag 'macro'");
    expect_fail("{{ strftime_now('%d') }}", DIFFLM_E_UNSUPPORTED, "global 'strftime_now'");
    expect_fail("{{ 1.5 }}", DIFFLM_E_UNSUPPORTED, "float");
    expect_fail("{% for x in [1] %}{{ loop.cycle }}{% endfor %}", DIFFLM_E_UNSUPPORTED, "loop.cycle");
    expect_fail("{{ messages }}", DIFFLM_E_UNSUPPORTED, "list to a string");
}
END_TEST

START_TEST(test_syntax_errors) {
    expect_fail("{{ 'x' ", DIFFLM_E_FORMAT, "unclosed {{");
    expect_fail("a\n{% if true %}", DIFFLM_E_FORMAT, "missing {% endif %} (the block opened at line 2)");
    expect_fail("{% for x in y %}", DIFFLM_E_FORMAT, "missing {% endfor %}");
    expect_fail("{# x", DIFFLM_E_FORMAT, "unclosed {#");
    expect_fail("{{ 'abc }}", DIFFLM_E_FORMAT, "unterminated string");
    expect_fail("{{ (1 ] }}", DIFFLM_E_FORMAT, "unexpected ']'");
    expect_fail("{% endfor %}", DIFFLM_E_FORMAT, "unexpected {% endfor %}");
    expect_fail("{{ 1 + }}", DIFFLM_E_FORMAT, "expected an expression");
    expect_fail("{{ '\\x4' }}", DIFFLM_E_FORMAT, "truncated");
    expect_fail("{% break %}", DIFFLM_E_FORMAT, "outside a for loop");
    expect_fail("{% set x 1 %}", DIFFLM_E_FORMAT, "expected '='");
    expect_fail("x\n\n{{ @ }}", DIFFLM_E_FORMAT, "line 3");
}
END_TEST

START_TEST(test_runtime_errors) {
    expect_fail("{{ raise_exception('Only user and assistant roles') }}", DIFFLM_E_INVALID_ARG,
                "raise_exception: Only user and assistant roles");
    expect_fail("{{ nothing + 'a' }}", DIFFLM_E_INVALID_ARG, "undefined");
    expect_fail("{{ nothing.x }}", DIFFLM_E_INVALID_ARG, "'nothing' is undefined");
    expect_fail("{{ 'a' < 1 }}", DIFFLM_E_INVALID_ARG, "'<' not supported");
    expect_fail("{{ 1 // 0 }}", DIFFLM_E_INVALID_ARG, "by zero");
    expect_fail("{% set ns.a = 1 %}", DIFFLM_E_INVALID_ARG, "non-namespace");
    expect_fail("{% for x in 3 %}{% endfor %}", DIFFLM_E_INVALID_ARG, "not iterable");
    expect_fail("{{ 9223372036854775807 + 1 }}", DIFFLM_E_UNSUPPORTED, "overflow");
    /* an operand that fails half-built (the list at its second element, the dict at its
     * value) is released once, not again by the operator (fuzz/corpus/jinja/
     * regress-list-double-free; the valgrind and ASan setups see a second free) */
    expect_fail("{{ 3 < [1, nothing.x] }}", DIFFLM_E_INVALID_ARG, "'nothing' is undefined");
    expect_fail("{{ 3 < {'a': 1, 'b': nothing.x} }}", DIFFLM_E_INVALID_ARG, "'nothing' is undefined");
    expect_fail("{{ 3 ~ range(2000000) }}", DIFFLM_E_NOMEM, "range longer");
}
END_TEST

/* A source of `reps` copies of `unit` between prefix and suffix. */
static char *repeat(const char *prefix, const char *unit, size_t reps, const char *suffix) {
    size_t np = strlen(prefix), nu = strlen(unit), ns = strlen(suffix);
    char *s = malloc(np + nu * reps + ns + 1);
    memcpy(s, prefix, np);
    for (size_t k = 0; k < reps; k++) memcpy(s + np + k * nu, unit, nu);
    memcpy(s + np + nu * reps, suffix, ns + 1);
    return s;
}

START_TEST(test_bounds) {
    char *s = repeat("{{ ", "(", 100000, "1");   /* unclosed and hugely nested */
    expect_fail(s, DIFFLM_E_UNSUPPORTED, "nested deeper than");
    free(s);
    s = repeat("{{ ", "not ", 100000, "1 }}");
    expect_fail(s, DIFFLM_E_UNSUPPORTED, "nested deeper than");
    free(s);
    s = repeat("", "{% if 1 %}", 5000, "");
    expect_fail(s, DIFFLM_E_UNSUPPORTED, "nested deeper than");
    free(s);
    s = repeat("{{ 1", " + 1", 100000, " }}");   /* a left-deep chain */
    expect_fail(s, DIFFLM_E_UNSUPPORTED, "nested deeper than");
    free(s);
    expect_fail("{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(10) %}{% endfor %}{% endfor %}{% endfor %}",
                DIFFLM_E_NOMEM, "loop iterations");
    expect_fail("{{ range(2000000) | length }}", DIFFLM_E_NOMEM, "range longer");
    expect_fail("{% set ns = namespace(s='xxxxxxxxxxxxxxxx') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
                DIFFLM_E_NOMEM, "a string of more than");
    expect_fail("{% for i in range(100000) %}{{ 'x' * 4000 }}{% endfor %}", DIFFLM_E_NOMEM, "output longer");
    /* repetition past the allocation bound fails before allocating (and without a
     * billion appends: fuzz/corpus/jinja/regress-repeat-calls) */
    expect_fail("{{ 'x' * 2000000000 }}", DIFFLM_E_NOMEM, "a string of more than");
    expect_fail("{{ 'xy' * 4611686018427387904 }}", DIFFLM_E_NOMEM, "a string of more than");
    /* the allocation bound counts every allocation of a render, freed or not */
    expect_fail("{% for i in range(70) %}{% set s = 'x' * 16000000 %}{% endfor %}", DIFFLM_E_NOMEM,
                "bytes allocated");
    s = repeat("", " ", DL_JINJA_MAX_SOURCE + 1, "");
    expect_fail(s, DIFFLM_E_UNSUPPORTED, "bytes (at most");
    free(s);
}
END_TEST

/* Strings are bounded in size (DL_JINJA_MAX_STRING) and the work over them by the bytes
 * read (DL_JINJA_MAX_WORK), not only by the steps: a 570 MB string's length, taken in
 * each of the fuzz harness's renders, took minutes (fuzz/corpus/jinja/regress-string-work).
 * Each template here is a handful of steps. */
START_TEST(test_string_work) {
    char out[64];
    size_t n;
    dl_err err = {0};
    ck_assert_int_eq(run("{{ ('x' * 5000000) | length }}", out, sizeof out, &n, &err), 0);
    ck_assert(n == 7 && memcmp(out, "5000000", 7) == 0);
    expect_fail("{{ ('x,' * 10000000) | length }}", DIFFLM_E_NOMEM, "a string of more than");
    expect_fail("{% set s = 'x' * 1000000 %}{% for i in range(100) %}{{ s | length }}{% endfor %}",
                DIFFLM_E_NOMEM, "bytes of strings processed");
    expect_fail("{% set s = 'x' * 1000000 %}{% for i in range(100) %}{% if s == s ~ '' %}{% endif %}"
                "{% endfor %}", DIFFLM_E_NOMEM, "bytes of strings processed");
    expect_fail("{% set s = 'x' * 1000000 %}{% for i in range(100) %}{% if 'y' in s %}{% endif %}"
                "{% endfor %}", DIFFLM_E_NOMEM, "bytes of strings processed");
    /* strip looks every character up among chars: quadratic, refused before it starts */
    expect_fail("{{ ('x' * 100000) | trim('y' * 100000) }}", DIFFLM_E_NOMEM,
                "bytes of strings processed");
}
END_TEST

/* Random byte edits of a real-looking template: each compiles and renders, or fails
 * with a status and a message; never a crash or a leak (valgrind). */
START_TEST(test_mutations) {
    const char *base =
        "{%- set ns = namespace(n=0) %}{% for m in messages %}{% if loop.first and m.role == 'system' %}"
        "{{ '<|im_start|>system\\n' + m['content'] | trim + '<|im_end|>\\n' }}{% elif m.role in ['user', 'assistant'] %}"
        "{%- set ns.n = ns.n + 1 -%}{{ '<|im_start|>' ~ m.role ~ '\\n' ~ m.content.strip() ~ '<|im_end|>\\n' }}"
        "{% else %}{{ raise_exception('bad role ' + m.role) }}{% endif %}{% endfor %}{# c #}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}{{ messages[1:] | length }}";
    size_t n = strlen(base);
    char *s = malloc(n + 1);
    const char alphabet[] = "{}%#-+()[]'\".|,:=~ \n\\ab";
    unsigned seed = 12345;
    int ok = 0;
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(s, base, n + 1);
        int edits = 1 + iter % 4;
        for (int e = 0; e < edits; e++) {
            seed = seed * 1103515245u + 12345u;
            size_t pos = (seed >> 8) % n;
            seed = seed * 1103515245u + 12345u;
            s[pos] = alphabet[(seed >> 8) % (sizeof alphabet - 1)];
        }
        char out[512];
        size_t len;
        dl_err err = {0};
        int rc = run(s, out, sizeof out, &len, &err);
        if (rc) ck_assert_msg(err.msg[0] != '\0', "status %d without a message for %s", rc, s);
        else ok++;
    }
    ck_assert_int_gt(ok, 0);
    free(s);
}
END_TEST

START_TEST(test_render_buffer) {
    char out[64];
    size_t n = 0, need = 0;
    dl_err err = {0};
    const char *src = "{% for m in messages %}[{{ m.role }}]{% endfor %}{{ bos_token }}";
    ck_assert_int_eq(run(src, NULL, 0, &need, &err), 0);
    ck_assert_uint_eq(need, strlen("[system][user][assistant]<s>"));
    memset(out, '#', sizeof out);
    ck_assert_int_eq(run(src, out, 5, &n, &err), 0);   /* counts all, writes what fits */
    ck_assert_uint_eq(n, need);
    ck_assert_int_eq(memcmp(out, "[syst#", 6), 0);
}
END_TEST

static dl_tok *load_vocab(int llama3) {
    tf_vocab v;
    memset(&v, 0, sizeof v);
    for (int b = 0; b < 256; b++) {
        char u[3];
        tf_byte_char((uint8_t)b, u);
        tf_vocab_push(&v, u, DL_TOKT_NORMAL);
    }
    int32_t eot = tf_vocab_push(&v, "<|endoftext|>", DL_TOKT_CONTROL);
    int32_t bos = tf_vocab_push(&v, llama3 ? "<|startoftext|>" : "<|beginoftext|>", DL_TOKT_CONTROL);
    const char *specials[] = {"<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"};
    for (int k = 0; k < 3; k++) tf_vocab_push(&v, llama3 ? specials[k] : "<|x|>", DL_TOKT_CONTROL);
    tf_vocab_push(&v, "<|im_start|>", DL_TOKT_CONTROL);
    tf_vocab_push(&v, "<|im_end|>", DL_TOKT_CONTROL);
    tf_keys k = tf_keys_default(llama3 ? "llama3" : "qwen2");
    k.bos = bos;
    k.eos = eot;
    dl_err err = {0};
    dl_tok *t = NULL;
    int rc = tf_load(&t, &v, &k, &err);
    ck_assert_msg(rc == 0, "load: %d %s", rc, err.msg);
    tf_vocab_free(&v);
    return t;
}

static void set_real_template(dl_tok *t, const char *folder) {
    char path[4096], *data;
    size_t n;
    tf_shared_path(path, sizeof path, folder);
    ck_assert_msg(tf_read_file(path, &data, &n) == 0, "cannot read %s", path);
    json_error_t je;
    json_t *cfg = json_loadb(data, n, JSON_DECODE_INT_AS_REAL, &je);   /* LLaDA: model_max_length 1e30 */
    free(data);
    json_t *tpl = json_object_get(cfg, "chat_template");
    ck_assert(json_is_string(tpl));
    dl_err err = {0};
    ck_assert_int_eq(dl_tok_set_chat_template(t, json_string_value(tpl), json_string_length(tpl), &err), 0);
    json_decref(cfg);
}

/* The vocabulary styles equal the real templates where the two overlap (LLaDA's
 * template always ends with the assistant header), so a model gains its template
 * without changing its chat text. */
static void compare_styles(int llama3, const char *folder) {
    const difflm_chat_message c1[] = {{"user", "  Hi there \n"}, {"assistant", "\t Hello\xE3\x80\x80"}, {"user", "x"}};
    const difflm_chat_message c2[] = {{"system", "Be brief."}, {"user", " q "}};
    const difflm_chat_message c3[] = {{"user", ""}};
    const difflm_chat_message *convs[] = {c1, c2, c3};
    size_t lens[] = {3, 2, 1};
    dl_tok *plain = load_vocab(llama3), *tpl = load_vocab(llama3);
    set_real_template(tpl, folder);
    for (int c = 0; c < 3; c++)
        for (int agp = llama3; agp <= 1; agp++) {
            char a[1024], b[1024];
            size_t na, nb;
            dl_err err = {0};
            ck_assert_int_eq(dl_tok_chat(plain, convs[c], lens[c], agp, a, sizeof a, &na, &err), 0);
            ck_assert_int_eq(dl_tok_chat(tpl, convs[c], lens[c], agp, b, sizeof b, &nb, &err), 0);
            ck_assert_msg(na == nb && memcmp(a, b, na) == 0, "style vs template differ:\n%s\n%s", a, b);
        }
    dl_tok_free(plain);
    dl_tok_free(tpl);
}

START_TEST(test_tok_wiring) {
    compare_styles(1, "data/tokenizers/llada-8b-instruct/tokenizer_config.json");
    compare_styles(0, "data/tokenizers/dream-v0-instruct-7b/tokenizer_config.json");

    dl_tok *t = load_vocab(1);
    const difflm_chat_message m[] = {{"user", "Hi"}};
    char out[256];
    size_t n;
    dl_err err = {0};
    const char *src = "{{ bos_token }}|{{ eos_token }}|{{ messages[0].content }}|{{ add_generation_prompt }}";
    ck_assert_int_eq(dl_tok_set_chat_template(t, src, strlen(src), &err), 0);
    ck_assert_int_eq(dl_tok_chat(t, m, 1, 1, out, sizeof out, &n, &err), 0);
    ck_assert_str_eq(out, "<|startoftext|>|<|endoftext|>|Hi|True");
    ck_assert_int_eq(dl_tok_chat(t, m, 1, 1, out, 5, &n, &err), DIFFLM_E_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(n, strlen("<|startoftext|>|<|endoftext|>|Hi|True"));
    /* a template outside the subset: dl_tok_chat reports it, never falls back */
    ck_assert_int_eq(dl_tok_set_chat_template(t, "{{ x | nope }}", 14, &err), DIFFLM_E_UNSUPPORTED);
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(dl_tok_chat(t, m, 1, 1, out, sizeof out, &n, &err), DIFFLM_E_UNSUPPORTED);
    ck_assert_msg(strstr(err.msg, "filter 'nope'"), "%s", err.msg);
    ck_assert_int_eq(dl_tok_set_chat_template(t, "{{ raise_exception('no') }}", 27, &err), 0);
    ck_assert_int_eq(dl_tok_chat(t, m, 1, 1, out, sizeof out, &n, &err), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(dl_tok_set_chat_template(t, NULL, 0, &err), 0);   /* back to the style */
    ck_assert_int_eq(dl_tok_chat(t, m, 1, 0, out, sizeof out, &n, &err), 0);
    ck_assert_str_eq(out, "<|startoftext|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>");
    ck_assert_int_eq(dl_tok_set_chat_template(NULL, "x", 1, &err), DIFFLM_E_INVALID_ARG);
    dl_tok_free(t);
}
END_TEST

int main(void) {
    Suite *s = suite_create("jinja");
    TCase *tc = tcase_create("all");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_unsupported_names);
    tcase_add_test(tc, test_syntax_errors);
    tcase_add_test(tc, test_runtime_errors);
    tcase_add_test(tc, test_bounds);
    tcase_add_test(tc, test_string_work);
    tcase_add_test(tc, test_mutations);
    tcase_add_test(tc, test_render_buffer);
    tcase_add_test(tc, test_tok_wiring);
    suite_add_tcase(s, tc);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
