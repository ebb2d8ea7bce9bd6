/* check_compat.h - what every Check test file includes. */
#ifndef DL_CHECK_COMPAT_H
#define DL_CHECK_COMPAT_H

#include <check.h>
#include <stdlib.h>

/* Runs one suite in the default (forking) mode and turns failures into the exit code. */
static inline int dl_run_suite(Suite *s) {
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
