/* i8259.c: the two legacy 8259 interrupt controllers, silenced.
 *
 * Interrupts arrive through the local and I/O APICs; the PICs are left
 * by the firmware with IRQ 0-7 on vectors 8-15, which are CPU exception
 * vectors (IRQ 0, the PIT, would look like a double fault).  So they are
 * moved to vectors 0x20-0x2f and every line is masked.  The boot CPU's
 * LINT0 pin, where the PICs' output arrives, is masked as well
 * (lapic_init_this_cpu), so not even a spurious IRQ 7 reaches a CPU.
 */
#include "arch/x86/asm.h"
#include "arch/x86/i8259.h"

#define PIC1_COMMAND 0x20
#define PIC1_DATA    0x21
#define PIC2_COMMAND 0xa0
#define PIC2_DATA    0xa1
#define ICW1_INIT_ICW4 0x11     /* edge triggered, cascade, ICW4 follows */
#define ICW4_8086      0x01

void i8259_disable(void)
{
	outb(PIC1_COMMAND, ICW1_INIT_ICW4);
	outb(PIC2_COMMAND, ICW1_INIT_ICW4);
	outb(PIC1_DATA, 0x20);  /* ICW2: IRQ 0-7 -> vectors 0x20-0x27 */
	outb(PIC2_DATA, 0x28);  /*       IRQ 8-15 -> vectors 0x28-0x2f */
	outb(PIC1_DATA, 0x04);  /* ICW3: the slave hangs off IRQ 2 */
	outb(PIC2_DATA, 0x02);  /*       and knows it is number 2 */
	outb(PIC1_DATA, ICW4_8086);
	outb(PIC2_DATA, ICW4_8086);
	outb(PIC1_DATA, 0xff);  /* OCW1: mask every line */
	outb(PIC2_DATA, 0xff);
}
