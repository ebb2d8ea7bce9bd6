/* test_core.c - arena layout, error detail, logging. */
#include <string.h>

#include "check_compat.h"
#include "core/core.h"

START_TEST(arena_measure_then_carve) {
    dl_arena a = {0};
    ck_assert_ptr_null(dl_arena_alloc(&a, 3));
    ck_assert_ptr_null(dl_arena_alloc(&a, 100));
    ck_assert_uint_eq(a.used, 64 + 100); /* second piece starts at the next cache line */
    size_t need = a.used;
    void *mem = dl_aligned_alloc(need);
    ck_assert_ptr_nonnull(mem);
    a = (dl_arena){.base = mem, .size = need};
    char *p1 = dl_arena_alloc(&a, 3), *p2 = dl_arena_alloc(&a, 100);
    ck_assert_ptr_eq(p1, mem);
    ck_assert_ptr_eq(p2, (char *)mem + 64);
    ck_assert_uint_eq((uintptr_t)p2 % DL_ALIGN, 0);
    ck_assert_int_eq(dl_arena_overflowed(&a), 0);
    ck_assert_ptr_null(dl_arena_alloc(&a, 1)); /* full */
    ck_assert_int_eq(dl_arena_overflowed(&a), 1);
    dl_aligned_free(mem);
}
END_TEST

START_TEST(arena_overflow_is_sticky) {
    dl_arena a = {0};
    dl_arena_alloc(&a, SIZE_MAX - 10);
    dl_arena_alloc(&a, 100);
    ck_assert_uint_eq(a.used, SIZE_MAX);
}
END_TEST

START_TEST(fail_formats_message) {
    dl_err e = {0};
    ck_assert_int_eq(dl_fail(&e, DIFFLM_E_FORMAT, "tensor '%s' at offset %d", "blk.0", 42),
                     DIFFLM_E_FORMAT);
    ck_assert_int_eq(e.status, DIFFLM_E_FORMAT);
    ck_assert_str_eq(e.msg, "tensor 'blk.0' at offset 42");
    ck_assert_int_eq(dl_fail(NULL, DIFFLM_E_IO, "x"), DIFFLM_E_IO);
    char big[2000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    dl_fail(&e, DIFFLM_E_IO, "%s", big); /* truncated, never overflows */
    ck_assert_uint_eq(strlen(e.msg), DL_ERR_MSG_MAX - 1);
    dl_err_clear(&e);
    ck_assert_str_eq(e.msg, "");
}
END_TEST

static int seen_level = -1;
static char seen_msg[64];
static void capture(int32_t level, const char *msg, void *user) {
    seen_level = level;
    strncpy(seen_msg, msg, sizeof seen_msg - 1);
    *(int *)user += 1;
}

START_TEST(log_respects_level) {
    int calls = 0;
    dl_log lg = {capture, &calls, DIFFLM_LOG_WARN};
    dl_logf(&lg, DIFFLM_LOG_INFO, "hidden");
    ck_assert_int_eq(calls, 0);
    dl_logf(&lg, DIFFLM_LOG_ERROR, "shown %d", 7);
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(seen_level, DIFFLM_LOG_ERROR);
    ck_assert_str_eq(seen_msg, "shown 7");
    dl_logf(NULL, DIFFLM_LOG_ERROR, "no sink");
    dl_log silent = {0};
    dl_logf(&silent, DIFFLM_LOG_ERROR, "no callback");
    ck_assert_int_eq(calls, 1);
}
END_TEST

int main(void) {
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, arena_measure_then_carve);
    tcase_add_test(tc, arena_overflow_is_sticky);
    tcase_add_test(tc, fail_formats_message);
    tcase_add_test(tc, log_respects_level);
    suite_add_tcase(s, tc);
    return dl_run_suite(s);
}
