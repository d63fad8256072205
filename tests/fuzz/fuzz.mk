# fuzz.mk: libFuzzer targets, built for Linux with clang's libFuzzer,
# AddressSanitizer and UndefinedBehaviorSanitizer (docs/testing.md,
# "Fuzzing").  Included by the top Makefile; also works alone from the
# repository root:
#
#     make -f tests/fuzz/fuzz.mk fuzz FUZZ_SECONDS=10
#
#   make fuzz         each target for FUZZ_SECONDS (default 60), its new
#                     inputs kept in build/fuzz/corpus/<target>/
#   make fuzz-test    each target for FUZZ_TEST_SECONDS after its whole
#                     seed corpus; KTAP, one case per target (make test)
#
# A target is tests/fuzz/<target>.c plus the sources it tests; its seed
# corpus is tests/fuzz/corpus/<target>/ (tests/fuzz/gen_corpus.py writes
# the binary ones).  A crash leaves its input in
# build/fuzz/<target>-crash-*: fix the bug, then commit that file into
# the seed corpus so that every later run replays it.

FUZZ_CC      ?= clang
FUZZ_BUILD   ?= build/fuzz
FUZZ_SECONDS ?= 60
# Long enough for a few hundred thousand inputs per target, short
# enough that make test spends about 20 s on all five.
FUZZ_TEST_SECONDS ?= 4
# -O1: ASan's recommendation.  No sanitizer recovery: the first report
# is a crash, which is what libFuzzer stops and saves the input on.
# Objects get fuzzer-no-link (coverage only); the link adds the driver.
FUZZ_CFLAGS := -std=gnu11 -g -O1 \
	-fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=all -fno-omit-frame-pointer \
	-Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes \
	-I. -MMD -MP
FUZZ_LDFLAGS := -fsanitize=fuzzer,address,undefined

FUZZERS := vmap_area kpt cmdline multiboot acpi

# The sources of each target.  printk, panic and spinlocks come from the
# host tests' shims: vmap_shim.c (a searchable log) where nothing else
# is needed, host_env.c (a pretend machine for mm/) for the page tables.
FUZZ_vmap_area_SRCS := \
	mm/avl.c \
	mm/vmap_area.c \
	mm/vmap_area_check.c \
	tests/host/vmap_shim.c \
	tests/fuzz/vmap_area.c
FUZZ_kpt_SRCS := \
	mm/frame.c \
	mm/frame_init.c \
	mm/gather.c \
	mm/kpt.c \
	mm/kpt_map.c \
	mm/kpt_unmap.c \
	tests/host/host_env.c \
	tests/fuzz/kpt.c
FUZZ_cmdline_SRCS := \
	kernel/cmdline.c \
	tests/host/vmap_shim.c \
	tests/fuzz/cmdline.c \
	tests/fuzz/cmdline_params.c
# The options sit side by side in .kernel_params and are walked as an
# array, so ASan must not put redzones between them (clang pads globals
# even in named sections); only that file is built so.
$(FUZZ_BUILD)/obj/tests/fuzz/cmdline_params.o: FUZZ_FILE_CFLAGS := -mllvm -asan-globals=0
# The options live in .kernel_params, whose bounds linker.ld gives the
# kernel; this script gives them to the host link.
FUZZ_cmdline_LDFLAGS := -Wl,-T,tests/fuzz/kernel_params.ld
FUZZ_multiboot_SRCS := \
	kernel/multiboot.c \
	tests/host/vmap_shim.c \
	tests/fuzz/multiboot.c
FUZZ_acpi_SRCS := \
	arch/x86/acpi.c \
	tests/host/vmap_shim.c \
	tests/fuzz/acpi.c

fuzz_objs = $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(FUZZ_$(1)_SRCS))
FUZZ_BINS := $(addprefix $(FUZZ_BUILD)/,$(FUZZERS))

.PHONY: fuzz fuzz-build fuzz-test
fuzz-build: $(FUZZ_BINS)

fuzz: $(FUZZ_BINS)
	$(or $(PYTHON),python3) tests/fuzz/run_fuzzers.py --build $(FUZZ_BUILD) \
		--seconds $(FUZZ_SECONDS) $(FUZZERS)

fuzz-test: $(FUZZ_BINS)
	@$(or $(PYTHON),python3) tests/fuzz/run_fuzzers.py --build $(FUZZ_BUILD) \
		--seconds $(FUZZ_TEST_SECONDS) --ktap $(FUZZERS)

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_FILE_CFLAGS) -c $< -o $@

define FUZZ_BIN_RULE
$(FUZZ_BUILD)/$(1): $(call fuzz_objs,$(1)) $(filter %.ld,$(FUZZ_$(1)_LDFLAGS:-Wl,-T,%=%))
	$$(FUZZ_CC) -o $$@ $(call fuzz_objs,$(1)) $$(FUZZ_LDFLAGS) $$(FUZZ_$(1)_LDFLAGS)
endef
$(foreach t,$(FUZZERS),$(eval $(call FUZZ_BIN_RULE,$(t))))

-include $(shell find $(FUZZ_BUILD)/obj -name '*.d' 2>/dev/null)
