#ifndef ARCH_X86_SETJMP_H
#define ARCH_X86_SETJMP_H
#include "kernel/types.h"
struct jmp_context { uint64_t rbx, rbp, r12, r13, r14, r15, rsp, rip, rflags; };
int arch_setjmp(struct jmp_context *ctx) __attribute__((returns_twice));
__noreturn void arch_longjmp(struct jmp_context *ctx, int value);
#endif
