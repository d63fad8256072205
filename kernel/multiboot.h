#ifndef KERNEL_MULTIBOOT_H
#define KERNEL_MULTIBOOT_H
#include "kernel/bootinfo.h"

/* Copy what the loader left at physical @mbi_phys into boot_info,
 * checking every size and bound.  Returns 0, or -EINVAL when the
 * information as a whole is unusable (then boot_info stays empty and the
 * caller reports it).  @mbi must be readable through @mbi_virt. */
int multiboot_parse(const void *mbi_virt, phys_addr_t mbi_phys, struct boot_info *out);
void boot_info_print(const struct boot_info *bi);
#endif
