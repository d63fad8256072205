# host.mk: unit tests of mm/ on the host (Linux), with AddressSanitizer
# and UndefinedBehaviorSanitizer.  Included by the top Makefile; also works
# alone from the repository root:
#
#     make -f tests/host/host.mk host-tests
#
# Two kinds of binary, both printing KTAP on stdout (also kept in
# build/test/host-<name>.log) and exiting non-zero when a case failed:
#
#   mm_frame, mm_kpt  link the same mm/*.c as the kernel, unchanged, with
#                     tests/host/host_env.c in place of the kernel and arch
#                     code, and run the shared suites (tests/mm_*.c) plus
#                     host-only ones (tests/host/test_*.c) through the
#                     kernel's selftest framework (selftest_host.c);
#   vmap_area         mm/vmap_area.c and its AVL tree with a small shim
#                     (vmap_shim.c) and its own table-driven harness
#                     (vmap_test.c): it needs no pretend machine.

HOST_CC     ?= gcc
HOST_BUILD  ?= build/host
HOST_LOGS   := build/test
# -O1: ASan's recommendation (fast, still exact reports); no -fsanitize
# recovery, so the first error ends the run with a non-zero status.
HOST_CFLAGS := -std=gnu11 -g -O1 -fsanitize=address,undefined \
	-fno-sanitize-recover=all -fno-omit-frame-pointer \
	-Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes \
	-I. -MMD -MP
HOST_LDFLAGS := -fsanitize=address,undefined
# Only for binaries that use the selftest framework (see selftests.ld).
HOST_SELFTEST_LDFLAGS := -Wl,-T,tests/host/selftests.ld

# mm/ as the kernel builds it, minus mm_init.c (boot: linker symbols, CR3).
HOST_MM_SRCS := \
	mm/frame.c \
	mm/frame_init.c \
	mm/gather.c \
	mm/kpt.c \
	mm/kpt_map.c \
	mm/kpt_unmap.c

HOST_ENV_SRCS := \
	tests/host/host_env.c \
	tests/host/selftest_host.c

# One binary per area: every source it links, and its extra link flags.
HOST_TESTS := mm_frame mm_kpt vmap_area
HOST_mm_frame_SRCS := $(HOST_MM_SRCS) $(HOST_ENV_SRCS) \
	tests/mm_frame.c tests/host/test_frame.c
HOST_mm_frame_LDFLAGS := $(HOST_SELFTEST_LDFLAGS)
HOST_mm_kpt_SRCS := $(HOST_MM_SRCS) $(HOST_ENV_SRCS) \
	tests/mm_kpt.c tests/host/test_kpt.c
HOST_mm_kpt_LDFLAGS := $(HOST_SELFTEST_LDFLAGS)
HOST_vmap_area_SRCS := \
	mm/avl.c \
	mm/vmap_area.c \
	mm/vmap_area_check.c \
	tests/host/vmap_shim.c \
	tests/host/vmap_test.c \
	tests/host/test_vmap_area.c \
	tests/host/test_vmap_area_scale.c

host_objs = $(patsubst %.c,$(HOST_BUILD)/%.o,$(HOST_$(1)_SRCS))
HOST_BINS := $(addprefix $(HOST_BUILD)/,$(HOST_TESTS))

.PHONY: host-tests host-build
host-build: $(HOST_BINS)

# Run every binary even if one fails; fail at the end if any did.
host-tests: $(HOST_BINS)
	@mkdir -p $(HOST_LOGS)
	@status=0; for t in $(HOST_TESTS); do \
		$(HOST_BUILD)/$$t > $(HOST_LOGS)/host-$$t.log 2>&1 || status=1; \
		cat $(HOST_LOGS)/host-$$t.log; \
	done; exit $$status

# Suites sit side by side in .selftests and are walked as an array, so
# ASan must not put redzones between them.  gcc leaves globals in named
# sections alone; clang needs telling (for the test files only).
HOST_SUITE_CFLAGS := $(if $(findstring clang,$(HOST_CC)),-mllvm -asan-globals=0)

$(HOST_BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(HOST_CC) $(HOST_CFLAGS) $(HOST_SUITE_CFLAGS) -c $< -o $@

$(HOST_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(HOST_CC) $(HOST_CFLAGS) -c $< -o $@

# The linker script is a prerequisite of every binary: simpler than
# tracking which ones use it, and it almost never changes.
define HOST_BIN_RULE
$(HOST_BUILD)/$(1): $(call host_objs,$(1)) tests/host/selftests.ld
	$$(HOST_CC) -o $$@ $(call host_objs,$(1)) $$(HOST_LDFLAGS) $$(HOST_$(1)_LDFLAGS)
endef
$(foreach t,$(HOST_TESTS),$(eval $(call HOST_BIN_RULE,$(t))))

-include $(shell find $(HOST_BUILD) -name '*.d' 2>/dev/null)
