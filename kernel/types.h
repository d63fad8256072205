/* Basic types for a freestanding kernel.  stdint/stddef/stdbool/stdarg are
 * part of the compiler's freestanding environment, so they are safe here. */
#ifndef KERNEL_TYPES_H
#define KERNEL_TYPES_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t phys_addr_t;   /* a physical address */
typedef uint64_t virt_addr_t;   /* a virtual address, as an integer */

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a)   (((x) + ((a) - 1)) & ~((__typeof__(x))(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a) - 1))
#define IS_ALIGNED(x, a) (((x) & ((__typeof__(x))(a) - 1)) == 0)
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#define KiB ((uint64_t)1024)   /* uint64_t, so %lu prints it */
#define MiB ((uint64_t)1024 * KiB)
#define GiB ((uint64_t)1024 * MiB)

#define __packed       __attribute__((packed))
#define __aligned(n)   __attribute__((aligned(n)))
#define __section(s)   __attribute__((section(s)))
#define __used         __attribute__((used))
#define __noreturn     __attribute__((noreturn))
#define __printf(a, b) __attribute__((format(printf, a, b)))
#define likely(x)      __builtin_expect(!!(x), 1)
#define unlikely(x)    __builtin_expect(!!(x), 0)

/* A compiler barrier, and single-copy loads/stores the compiler may not
 * tear, merge or hoist.  Shared data between CPUs goes through these. */
#define barrier()        __asm__ __volatile__("" ::: "memory")
#define READ_ONCE(x)     (*(const volatile __typeof__(x) *)&(x))
/* A counter that several CPUs bump: one locked add, no ordering. */
#define COUNTER_ADD(x, n) ((void)__atomic_add_fetch(&(x), (n), __ATOMIC_RELAXED))
#define WRITE_ONCE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))

/* Error codes, negated when returned, as in Linux. */
#define EPERM   1
#define ENOENT  2
#define EIO     5
#define E2BIG   7
#define ENOMEM  12
#define EFAULT  14
#define EBUSY   16
#define EEXIST  17
#define ENODEV  19
#define EINVAL  22
#define ENOSPC  28
#define ERANGE  34
#define ETIMEDOUT 110

#endif
