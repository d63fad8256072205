/* tests/multiboot.c: the boot information parser against crafted, broken
 * multiboot2 structures.  Each case builds one structure in a buffer and
 * states what the parser must keep, drop and return. */
#include "kernel/multiboot.h"
#include "kernel/selftest.h"
#include "kernel/string.h"

#define FAKE_MBI_PHYS 0x10000     /* any 8-aligned address: it is only recorded */

struct mbi_builder {
	uint8_t buf[512] __aligned(8);
	uint32_t len;
};

static void mbi_begin(struct mbi_builder *b)
{
	memset(b, 0, sizeof(*b));
	b->len = 8;                   /* total_size, reserved */
}

/* Append a tag of @type with @payload; @size_override, when non-zero,
 * replaces the honest size field (to build lies). */
static void mbi_tag(struct mbi_builder *b, uint32_t type, const void *payload,
		    uint32_t payload_len, uint32_t size_override)
{
	uint32_t size = 8 + payload_len;

	memcpy(b->buf + b->len, &type, 4);
	memcpy(b->buf + b->len + 4, size_override ? &size_override : &size, 4);
	memcpy(b->buf + b->len + 8, payload, payload_len);
	b->len = ALIGN_UP(b->len + size, 8);
}

static void mbi_end(struct mbi_builder *b, bool with_end_tag)
{
	if (with_end_tag)
		mbi_tag(b, 0, NULL, 0, 0);
	memcpy(b->buf, &b->len, 4);
}

struct mmap_payload {
	uint32_t entry_size, version;
	struct { uint64_t base, length; uint32_t type, reserved; } e[2];
};

static const struct mmap_payload good_mmap = {
	24, 0, { { 0, 0x9f000, 1, 0 }, { 0x100000, 0x1ff00000, 1, 0 } },
};

enum mbi_shape {
	MBI_VALID,
	MBI_TAG_OVERRUNS,        /* the mmap tag claims more than is there */
	MBI_MMAP_ENTRY_TOO_SMALL,
	MBI_MMAP_ENTRY_WRAPS,
	MBI_CMDLINE_NO_NUL,
	MBI_NO_END_TAG,
	MBI_TOTAL_TOO_SMALL,
	MBI_TOTAL_TOO_LARGE,
};

static void build(struct mbi_builder *b, enum mbi_shape shape)
{
	struct mmap_payload m = good_mmap;
	char cmd[] = "selftest=x";

	mbi_begin(b);
	if (shape == MBI_CMDLINE_NO_NUL)
		mbi_tag(b, 1, cmd, sizeof(cmd) - 1, 0);
	else
		mbi_tag(b, 1, cmd, sizeof(cmd), 0);
	if (shape == MBI_MMAP_ENTRY_TOO_SMALL)
		m.entry_size = 16;
	if (shape == MBI_MMAP_ENTRY_WRAPS)
		m.e[1].length = UINT64_MAX;
	mbi_tag(b, 6, &m, sizeof(m), shape == MBI_TAG_OVERRUNS ? 4096 : 0);
	mbi_end(b, shape != MBI_NO_END_TAG);
	if (shape == MBI_TOTAL_TOO_SMALL)
		*(uint32_t *)b->buf = 8;
	if (shape == MBI_TOTAL_TOO_LARGE)
		*(uint32_t *)b->buf = 0x7fffffff;
}

struct mbi_case {
	const char *name;
	enum mbi_shape shape;
	int ret;
	size_t nr_mem;
	const char *cmdline;
};

static const struct mbi_case mbi_table[] = {
	{ "valid", MBI_VALID, 0, 2, "selftest=x" },
	{ "tag overruns the structure", MBI_TAG_OVERRUNS, 0, 0, "selftest=x" },
	{ "mmap entry size too small", MBI_MMAP_ENTRY_TOO_SMALL, 0, 0, "selftest=x" },
	{ "mmap entry wraps around", MBI_MMAP_ENTRY_WRAPS, 0, 1, "selftest=x" },
	{ "command line without NUL", MBI_CMDLINE_NO_NUL, 0, 2, "" },
	{ "no end tag", MBI_NO_END_TAG, 0, 2, "selftest=x" },
	{ "total_size too small", MBI_TOTAL_TOO_SMALL, -EINVAL, 0, "" },
	{ "total_size absurd", MBI_TOTAL_TOO_LARGE, -EINVAL, 0, "" },
};

static void test_table(struct selftest *t)
{
	static struct mbi_builder b;
	static struct boot_info bi;

	for (size_t i = 0; i < ARRAY_SIZE(mbi_table); i++) {
		const struct mbi_case *c = &mbi_table[i];
		int ret;

		build(&b, c->shape);
		ret = multiboot_parse(b.buf, FAKE_MBI_PHYS, &bi);
		if (ret != c->ret || bi.nr_mem != c->nr_mem || strcmp(bi.cmdline, c->cmdline))
			selftest_fail_at(t, __FILE__, __LINE__,
				"%s: expected ret %d, %zu regions, cmdline \"%s\"; "
				"saw %d, %zu, \"%s\"", c->name, c->ret, c->nr_mem,
				c->cmdline, ret, bi.nr_mem, bi.cmdline);
	}
}

static void test_misaligned_address(struct selftest *t)
{
	static struct mbi_builder b;
	static struct boot_info bi;

	build(&b, MBI_VALID);
	EXPECT_EQ(t, multiboot_parse(b.buf, FAKE_MBI_PHYS + 4, &bi), -EINVAL);
	EXPECT_EQ(t, bi.nr_mem, 0);
}

/* The real boot information was parsed at boot: it must have given us
 * memory to run in. */
static void test_boot_info_has_memory(struct selftest *t)
{
	uint64_t available = 0;

	for (size_t i = 0; i < boot_info.nr_mem; i++)
		if (boot_info.mem[i].type == MEM_AVAILABLE)
			available += boot_info.mem[i].size;
	EXPECT_GT(t, available, 16 * MiB);
	EXPECT_NE(t, boot_info.mbi.start, 0);
}

static const struct selftest_case multiboot_cases[] = {
	{ "rejects_and_keeps_per_table", test_table },
	{ "rejects_misaligned_information", test_misaligned_address },
	{ "boot_information_has_memory", test_boot_info_has_memory },
};
SELFTEST_SUITE(multiboot, multiboot_cases);
