#ifndef ARCH_X86_UART_H
#define ARCH_X86_UART_H
#include "arch/x86/arch.h"
void uart_init(void);
void uart_putc(char c);   /* polled; "\n" becomes "\r\n" */
#endif
