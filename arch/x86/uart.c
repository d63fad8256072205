/* uart.c: the 16550 UART on COM1, the kernel's console.
 *
 * Polled output only: the console must work in every context, including
 * exception handlers and a panic with interrupts off.  115200 baud, 8N1.
 * QEMU's 16550 ignores the baud rate, real hardware does not. */
#include "arch/x86/asm.h"
#include "arch/x86/uart.h"

#define COM1 0x3f8

/* Register offsets from the base port (some share an offset: DLAB=1
 * turns offsets 0 and 1 into the divisor latch). */
enum {
	UART_DATA = 0,        /* transmit/receive holding register */
	UART_IER = 1,         /* interrupt enable */
	UART_DLL = 0,         /*   divisor latch low  (DLAB=1) */
	UART_DLM = 1,         /*   divisor latch high (DLAB=1) */
	UART_FCR = 2,         /* FIFO control */
	UART_LCR = 3,         /* line control */
	UART_LCR_8N1 = 0x03,
	UART_LCR_DLAB = 0x80,
	UART_MCR = 4,         /* modem control */
	UART_LSR = 5,         /* line status */
	UART_LSR_THRE = 0x20, /*   transmit holding register empty */
};

/* 115200 = 1.8432 MHz / 16 / 1 */
#define UART_DIVISOR_115200 1

void uart_init(void)
{
	outb(COM1 + UART_IER, 0x00);                 /* polled: no interrupts */
	outb(COM1 + UART_LCR, UART_LCR_DLAB);
	outb(COM1 + UART_DLL, UART_DIVISOR_115200);
	outb(COM1 + UART_DLM, 0);
	outb(COM1 + UART_LCR, UART_LCR_8N1);
	outb(COM1 + UART_FCR, 0xc7);                 /* enable+clear FIFOs */
	outb(COM1 + UART_MCR, 0x03);                 /* DTR, RTS */
}

void uart_putc(char c)
{
	if (c == '\n')
		uart_putc('\r');
	while (!(inb(COM1 + UART_LSR) & UART_LSR_THRE))
		cpu_relax();
	outb(COM1 + UART_DATA, (uint8_t)c);
}
