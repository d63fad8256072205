#ifndef ARCH_X86_I8259_H
#define ARCH_X86_I8259_H
/* Remap the legacy PICs away from the exception vectors and mask them.
 * => boot CPU, once, IRQs off. */
void i8259_disable(void);
#endif
