# vmap_area.mk: host unit tests of the vmalloc-space allocator.
#   make -f tests/host/vmap_area.mk        (from the repository root)
# builds build/host/test_vmap_area and runs it; KTAP on stdout, and a
# non-zero exit status if any case fails.

HOST_CC     ?= gcc
# -O1: ASan's reports keep readable stacks; -fno-sanitize-recover: the
# first undefined behaviour fails the run instead of printing and going on.
VMAP_CFLAGS := -std=gnu11 -g -O1 \
	-fsanitize=address,undefined -fno-sanitize-recover=all \
	-Wall -Wextra -Werror -I.

VMAP_TEST   := build/host/test_vmap_area

VMAP_SRCS := \
	mm/avl.c \
	mm/vmap_area.c \
	mm/vmap_area_check.c \
	tests/host/vmap_shim.c \
	tests/host/vmap_test.c \
	tests/host/test_vmap_area.c \
	tests/host/test_vmap_area_scale.c

VMAP_HDRS := \
	mm/avl.h \
	mm/vmap_area.h \
	mm/vmap_area_internal.h \
	tests/host/vmap_shim.h \
	tests/host/vmap_test.h

.PHONY: vmap-area-test
vmap-area-test: $(VMAP_TEST)
	./$(VMAP_TEST)

$(VMAP_TEST): $(VMAP_SRCS) $(VMAP_HDRS) tests/host/vmap_area.mk
	@mkdir -p $(dir $@)
	$(HOST_CC) $(VMAP_CFLAGS) $(VMAP_SRCS) -o $@
