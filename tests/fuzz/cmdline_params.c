/* cmdline_params.c: the cmdline fuzzer's options, registered as the
 * kernel registers its own.  A file of its own because it is built
 * without AddressSanitizer's global redzones (fuzz.mk): the records sit
 * side by side in .kernel_params and are walked as an array, so nothing
 * may pad them.  The variables they point to live in cmdline.c, which
 * keeps its redzones. */
#include "kernel/cmdline.h"
#include "tests/fuzz/cmdline_params.h"

KERNEL_PARAM_BOOL(flag, opt_flag, "a bool");
KERNEL_PARAM_UINT(num, opt_num, "a number");
KERNEL_PARAM_STRING(tag, opt_tag, "a short string");
KERNEL_PARAM_STRING(path, opt_path, "a longer string");
