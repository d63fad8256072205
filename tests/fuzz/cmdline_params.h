/* The options the cmdline fuzzer registers (cmdline_params.c) and checks
 * (cmdline.c). */
#ifndef TESTS_FUZZ_CMDLINE_PARAMS_H
#define TESTS_FUZZ_CMDLINE_PARAMS_H
#include "kernel/types.h"

extern bool opt_flag;
extern uint64_t opt_num;
extern char opt_tag[8];
extern char opt_path[64];
#endif
