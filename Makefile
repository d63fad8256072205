# Makefile for shootdown.  `make help` lists the targets.
#
# The kernel is built with the host compiler in freestanding mode; set
# CROSS_COMPILE=x86_64-elf- to use a cross toolchain, or CC=clang.

CROSS_COMPILE ?=
ifeq ($(origin CC),default)
CC := $(CROSS_COMPILE)gcc
endif
LD      := $(CROSS_COMPILE)ld
NM      := $(CROSS_COMPILE)nm
PYTHON  ?= python3

BUILD   := build
FIRMWARE ?= bios
SMP     ?= 4
CPU     ?= max
MEM     ?= 512M
CMDLINE ?=
# multi: a host thread per vCPU (truly parallel); single: all vCPUs in one
# thread, much faster when SMP is above the host's core count.
TCG_THREAD ?= multi
# The gdb stub's port for `make debug` and `make gdb` (QEMU's default).
GDB_PORT ?= 1234
# Extra tools/run_tests.py options for `make test`, e.g. "--matrix bios:4".
TESTFLAGS ?=

# Freestanding: no libc, no red zone (interrupts push onto the stack below
# RSP), no SSE/x87 (the kernel never saves FPU state), kernel code model
# (code linked in the top 2 GiB), frame pointers kept for readable gdb
# backtraces.  -fno-pic/-fno-pie because nothing is relocated at run time.
CFLAGS := -std=gnu11 -O2 -g \
	-ffreestanding -fno-builtin -nostdinc -isystem $(shell $(CC) -print-file-name=include) \
	-mno-red-zone -mgeneral-regs-only -mcmodel=kernel \
	-fno-pic -fno-pie -fno-stack-protector -fno-omit-frame-pointer \
	-fno-asynchronous-unwind-tables \
	-Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes \
	-I. -MMD -MP
ASFLAGS := -g -I. -MMD -MP -D__ASSEMBLY__
# -n: no page-aligning of the file (GRUB needs the header in the first
# 32 KiB); max-page-size: 4 KiB segments, not 2 MiB ones.
# --no-warn-rwx-segments: the 32-bit boot segment must be RWX (it runs
# before paging); every other segment has exact permissions.
LDFLAGS := -nostdlib -n -z max-page-size=0x1000 -z noexecstack --no-warn-rwx-segments -T linker.ld

# Every object of the kernel, one per line.
OBJS := \
	boot/multiboot2.o \
	arch/x86/entry.o \
	arch/x86/probe.o \
	arch/x86/setjmp.o \
	arch/x86/acpi.o \
	arch/x86/cpu.o \
	arch/x86/debug_exit.o \
	arch/x86/extable.o \
	arch/x86/gdt.o \
	arch/x86/i8259.o \
	arch/x86/idt.o \
	arch/x86/lapic.o \
	arch/x86/percpu.o \
	arch/x86/pit.o \
	arch/x86/smp_stop.o \
	arch/x86/smpboot.o \
	arch/x86/tlb.o \
	arch/x86/trampoline.o \
	arch/x86/traps.o \
	arch/x86/tsc.o \
	arch/x86/uart.o \
	kernel/clock.o \
	kernel/cmdline.o \
	kernel/ksyms.o \
	kernel/main.o \
	kernel/multiboot.o \
	kernel/nmi.o \
	kernel/panic.o \
	kernel/printk.o \
	kernel/selftest.o \
	kernel/smp.o \
	kernel/spinlock.o \
	kernel/string.o \
	kernel/trace.o \
	kernel/trace_clock.o \
	kernel/vsnprintf.o

# mm/: frames, page tables, vmalloc and ioremap, the shootdown.
MM_OBJS := \
	mm/avl.o \
	mm/fixmap.o \
	mm/frame.o \
	mm/frame_init.o \
	mm/gather.o \
	mm/ioremap.o \
	mm/kpt.o \
	mm/kpt_map.o \
	mm/kpt_unmap.o \
	mm/mm_init.o \
	mm/psc_model.o \
	mm/shootdown.o \
	mm/vmalloc.o \
	mm/vmap_area.o \
	mm/vmap_area_check.o \
	mm/vmap_node_pool.o

# In-kernel selftests.
TEST_OBJS := \
	tests/acpi.o \
	tests/alloc_fail.o \
	tests/alloc_fail_free.o \
	tests/alloc_fail_util.o \
	tests/cmdline.o \
	tests/fixmap.o \
	tests/mm_frame.o \
	tests/mm_kpt.o \
	tests/kpt_lockless.o \
	tests/multiboot.o \
	tests/nmi.o \
	tests/pit.o \
	tests/printk.o \
	tests/pte_death.o \
	tests/selftest.o \
	tests/shootdown.o \
	tests/shootdown_replace.o \
	tests/soak.o \
	tests/smp.o \
	tests/trace.o \
	tests/traps.o \
	tests/vm_common.o \
	tests/vmalloc.o \
	tests/vmalloc_bad.o \
	tests/smpboot.o

# Seed scenarios (scenarios/scenario.h): scenario=NAME[:broken].
SCENARIO_OBJS := \
	scenarios/scenario.o \
	scenarios/seed000_huge_ioremap.o \
	scenarios/seed001_nmi_fixmap.o \
	scenarios/seed002_no_ack_wait.o \
	scenarios/seed002_dirty_bit.o \
	scenarios/seed003_device_tlb.o \
	scenarios/seed004_no_alloc_free.o

ALL_OBJS := $(addprefix $(BUILD)/,$(OBJS) $(MM_OBJS) $(TEST_OBJS) $(SCENARIO_OBJS))

# The benchmark suite (make bench, docs/bench.md); bench=tiny by default,
# so every selftest boot runs it small and checks its shape.
BENCH_OBJS := \
	tests/bench.o \
	tests/bench_floor.o \
	tests/bench_linux.o \
	tests/bench_strategy.o \
	tests/bench_util.o
ALL_OBJS += $(addprefix $(BUILD)/,$(BENCH_OBJS))

.PHONY: all iso run test debug gdb clean help deps host-tests model
all: $(BUILD)/kernel.elf iso

help:
	@echo "make            build build/kernel.elf and build/shootdown.iso"
	@echo "make run        install missing packages, build, boot QEMU (FIRMWARE=bios|uefi SMP=4 CPU=max MEM=512M"
	@echo "                TCG_THREAD=multi|single CMDLINE=...)"
	@echo "make test       host tests, fuzzers, clang build, boots (BIOS/UEFI, -smp 1..8, -cpu max/qemu64), bad-input boots;"
	@echo "                prints 'N passed, N failed' last (TESTFLAGS=... adds tools/run_tests.py options)"
	@echo "make fuzz       run each libFuzzer target of tests/fuzz/ for FUZZ_SECONDS (60); runs/s table"
	@echo "make model      check the shootdown protocol with SPIN (tools/model/): every variant's verdict,"
	@echo "                states, depth and time, and one counterexample told step by step"
	@echo "make soak       10^6 random map/unmap operations from every CPU (SMP=4, SOAK_OPS, SOAK_TCG=single)"
	@echo "make bench      boot the bench suite at full size (SMP=4); table and CSV in build/bench/"
	@echo "make bench-sweep  -smp 1,2,4,8 (BENCH_SWEEP=...): CSV and SVG plots in build/bench/"
	@echo "make scenario   boot a seed scenario (NAME=no-ack-wait, BROKEN=1 for the broken variant);"
	@echo "                narration, verdict; log, SVG and JSON in build/scenarios/"
	@echo "make scenarios  every scenario, both variants: a table of verdicts (and the free-after-acks check)"
	@echo "make debug      boot QEMU paused, gdb stub on :1234; then 'make gdb' in another terminal"
	@echo "make gdb        attach gdb with symbols, stop at kmain"
	@echo "make clean      remove build/"

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(ASFLAGS) -c $< -o $@

# Two links: the first, with an empty symbol table, gives the addresses;
# the second adds the table in .ksyms, the last segment, which moves no
# other address (see linker.ld).
$(BUILD)/ksyms_empty.c: tools/gen_ksyms.py
	@mkdir -p $(BUILD)
	$(PYTHON) tools/gen_ksyms.py < /dev/null > $@

$(BUILD)/kernel.pass1.elf: $(ALL_OBJS) $(BUILD)/ksyms_empty.o linker.ld
	$(LD) $(LDFLAGS) -o $@ $(ALL_OBJS) $(BUILD)/ksyms_empty.o

$(BUILD)/ksyms.c: $(BUILD)/kernel.pass1.elf tools/gen_ksyms.py
	$(NM) -n --defined-only $< | $(PYTHON) tools/gen_ksyms.py > $@

$(BUILD)/kernel.elf: $(ALL_OBJS) $(BUILD)/ksyms.o linker.ld
	$(LD) $(LDFLAGS) -o $@ $(ALL_OBJS) $(BUILD)/ksyms.o
	@if command -v grub-file >/dev/null; then \
		grub-file --is-x86-multiboot2 $@ || { echo "$@ is not multiboot2"; exit 1; }; fi

iso: $(BUILD)/shootdown.iso
$(BUILD)/shootdown.iso: $(BUILD)/kernel.elf boot/grub.cfg
	@mkdir -p $(BUILD)/isodir/boot/grub
	cp boot/grub.cfg $(BUILD)/isodir/boot/grub/grub.cfg
	cp $(BUILD)/kernel.elf $(BUILD)/isodir/boot/kernel.elf
	grub-mkrescue -o $@ $(BUILD)/isodir 2> $(BUILD)/grub-mkrescue.log || \
		{ cat $(BUILD)/grub-mkrescue.log; exit 1; }

deps:
	@sh tools/install-deps.sh

QEMU_RUN := $(PYTHON) tools/qemu_run.py --firmware $(FIRMWARE) --smp $(SMP) --cpu $(CPU) --mem $(MEM) \
	--tcg-thread $(TCG_THREAD)

run: deps
	@$(MAKE) --no-print-directory all
	$(QEMU_RUN) $(if $(CMDLINE),--cmdline "$(CMDLINE)")

-include tests/host/host.mk
-include tests/fuzz/fuzz.mk

# Every test, in one count (docs/testing.md): the host unit tests of mm/
# and of tools/ (KTAP), the kernel built with clang (one pass or fail;
# -Werror, so a warning fails it), the boot matrix of tools/run_tests.py
# (DEFAULT_MATRIX), the bad-input boots (BOOT_CHECKS), the shape of
# `make bench`'s output from one tiny bench boot (tools/bench.py --check),
# the gdb helpers run against a paused boot (tests/gdb/test_gdb.py), each
# fuzzer of tests/fuzz/ over its seed corpus and a few seconds of new
# inputs (KTAP, one case per fuzzer), and the SPIN model of the shootdown
# (tools/model/run.py --ktap: the fixed protocol verifies, each broken
# variant yields a counterexample).
test: deps
	@$(MAKE) --no-print-directory all
	$(PYTHON) tools/run_tests.py \
		--host-cmd "$(MAKE) --no-print-directory host-tests" \
		--host-cmd "$(MAKE) --no-print-directory fuzz-test" \
		--host-cmd "$(PYTHON) tests/tools/ktap_unittest.py" \
		--host-cmd "$(PYTHON) tools/model/run.py --ktap" \
		--host-cmd "$(PYTHON) tools/bench.py --check --smp 4" \
		--host-cmd "$(PYTHON) tests/gdb/test_gdb.py" \
		--check "clang-build=$(MAKE) --no-print-directory CC=clang BUILD=$(BUILD)/clang $(BUILD)/clang/kernel.elf" \
		--boot-check all $(TESTFLAGS)

# The shootdown protocol in Promela, checked by SPIN (docs/model.md);
# builds in build/model/.
model: deps
	$(PYTHON) tools/model/run.py

debug: all
	$(QEMU_RUN) --gdb --gdb-port $(GDB_PORT) $(if $(CMDLINE),--cmdline "$(CMDLINE)")

gdb:
	gdb -q -ex 'set $$gdb_port = $(GDB_PORT)' -x tools/gdb/gdbinit $(BUILD)/kernel.elf

clean:
	rm -rf $(BUILD)

# Benchmarks (docs/bench.md): the kernel's bench suite at full size,
# booted through tools/bench.py.  `make bench SMP=8`; the sweep boots once
# per CPU count and writes CSV and SVG plots under build/bench/.
BENCH_SWEEP ?= 1,2,4,8
BENCH_RUN := $(PYTHON) tools/bench.py --kernel $(BUILD)/kernel.elf \
	--firmware $(FIRMWARE) --cpu $(CPU) --mem $(MEM)

# A seed scenario (scenarios/scenario.h): narration, verdict, and the
# log, SVG and JSON in build/scenarios/.  make scenario NAME=no-ack-wait BROKEN=1
NAME ?= no-ack-wait
.PHONY: scenario
scenario: deps
	@$(MAKE) --no-print-directory all
	$(PYTHON) tools/scenario.py $(NAME) $(if $(BROKEN),--broken) --smp $(SMP) --firmware $(FIRMWARE)

# Every scenario, both variants, one boot at a time: a table of verdicts
# and, for each fixed variant, the free-after-acks check on its trace.
.PHONY: scenarios
scenarios: deps
	@$(MAKE) --no-print-directory all
	$(PYTHON) tools/scenario.py --all --smp $(SMP) --firmware $(FIRMWARE)

.PHONY: bench bench-sweep

# The soak (docs/testing.md, "Soak"): SOAK_OPS random vmalloc/vzalloc/
# vmap/ioremap/ioremap_replace_at operations and their frees from every
# CPU at once (SMP=4), each area read on every CPU before its free, each
# freed page read after its purge.  Single-threaded TCG by default:
# multi-threaded, with 4 vCPUs on 2 host cores, every shootdown waits for
# descheduled vCPUs and 10^6 operations take about 25 minutes instead of
# under one (SOAK_TCG=multi for that).  Not part of make test.
SOAK_OPS ?= 1000000
SOAK_TCG ?= single
SOAK_TIMEOUT ?= 3600
.PHONY: soak
soak: deps
	@$(MAKE) --no-print-directory all
	@$(PYTHON) tools/qemu_run.py --firmware $(FIRMWARE) --smp $(SMP) --cpu $(CPU) \
		--mem $(MEM) --tcg-thread $(SOAK_TCG) --timeout $(SOAK_TIMEOUT) \
		--cmdline "selftest=soak soak=$(SOAK_OPS)" --log $(BUILD)/soak.log \
		> /dev/null 2>&1; status=$$?; \
	grep -E "# soak:|# no remote flush|ok [0-9]+ soak|# .*soak\.c" $(BUILD)/soak.log; \
	if [ $$status -eq 0 ]; then echo "soak: PASS"; \
	else echo "soak: FAIL (QEMU status $$status; serial log $(BUILD)/soak.log)"; exit 1; fi
bench: deps
	@$(MAKE) --no-print-directory all
	$(BENCH_RUN) --smp $(SMP)

bench-sweep: deps
	@$(MAKE) --no-print-directory all
	$(BENCH_RUN) --sweep $(BENCH_SWEEP)

-include $(ALL_OBJS:.o=.d)
