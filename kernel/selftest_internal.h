/* The parts of the selftest framework that the exception handler and the
 * framework's own tests use; test suites need only kernel/selftest.h. */
#ifndef KERNEL_SELFTEST_INTERNAL_H
#define KERNEL_SELFTEST_INTERNAL_H
#include "kernel/selftest.h"

/* If a case is running on this CPU, end it as failed because of exception
 * @vector and jump back into the runner (does not return).  Returns false
 * when no case is running, so the caller panics instead. */
bool selftest_abort_running_case(uint64_t vector);

/* Prefix for console lines printed while a case runs on this CPU ("" when
 * none runs), so an exception report inside a test reads as KTAP
 * diagnostics: "    # ". */
const char *selftest_diag_prefix(void);

enum selftest_outcome { SELFTEST_PASSED, SELFTEST_FAILED, SELFTEST_SKIPPED, SELFTEST_ABORTED };

/* Run one case as a nested test of the running case: its result is not
 * printed as a KTAP line (diagnostics still are).  For the framework's
 * own tests, which must show that a failing or faulting case is caught. */
enum selftest_outcome selftest_run_nested(const struct selftest_case *c);
#endif
