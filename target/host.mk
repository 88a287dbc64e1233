# Host build of the firmware core (allocator, VM model, clients, interpreter) with stdio in place
# of semihosting: fast end-to-end runs and, later, fuzzing. Included by the top-level Makefile;
# also usable alone from the repository root: `make -f target/host.mk host SLOTS=4 MOVE=0`.
#
#   host            build/host/s$(SLOTS)-m$(MOVE)-d$(DEBUG)[-<hash>]/heaprig-host EVENTS RESULTS
#                   (the backend as for the firmware: BACKEND=..., see target/backend.mk)
#   host-path       prints where that program is (for the harness)
#   host-gc-test    build and run the GC model's unit test
#   host-clean      remove build/host
#
# The core assumes a 32-bit target (8-byte block headers), so it is built with -m32. Where the
# kernel cannot run 32-bit x86 programs, `heaprig-host` is a small script running the ELF
# (`heaprig-host.elf`, the file to give gdb) under qemu-i386; elsewhere it runs it directly.

# The firmware variant, as for target/firmware.mk (same names, same defaults).
SLOTS ?= 8
MOVE ?= 1
DEBUG ?= 0

include target/backend.mk

HOST_CC ?= gcc
HOST_LD ?= ld
HOST_VARIANT := s$(SLOTS)-m$(MOVE)-d$(DEBUG)
HOST_BUILD_DIR := build/host/$(HOST_VARIANT)$(BACKEND_TAG)
HOST_ELF := $(HOST_BUILD_DIR)/heaprig-host.elf
HOST_PROGRAM := $(HOST_BUILD_DIR)/heaprig-host
HOST_GC_TEST := build/host/gc-test/gc_test.elf

# The platform-neutral core, shared with the Cortex-M3 firmware (every .c of these folders but
# the unit tests), plus the host board. The backend is built apart, as for the firmware.
HOST_CORE_DIRS := target/rig target/vm target/clients target/interp
HOST_CORE_SOURCES := \
    $(filter-out %_test.c,$(foreach dir,$(HOST_CORE_DIRS),$(wildcard $(dir)/*.c)))
HOST_SOURCES := $(HOST_CORE_SOURCES) target/board/host/main.c
HOST_INCLUDES := -Itarget -Itarget/include
HOST_DEFINES := -DSUPERVISOR_SLOTS=$(SLOTS) -DSUPERVISOR_MOVE_SUPPORT=$(MOVE) -DHEAPRIG_DEBUG=$(DEBUG)
# Extra flags for one build, e.g. HOST_EXTRA_CFLAGS=-fsanitize=undefined (backend included).
HOST_EXTRA_CFLAGS ?=
HOST_COMMON_CFLAGS := -std=c11 -Wall -Wextra -g -O1 -m32
HOST_CFLAGS := $(HOST_COMMON_CFLAGS) -Werror $(HOST_INCLUDES) $(HOST_DEFINES) $(HOST_EXTRA_CFLAGS)
HOST_BACKEND_CFLAGS := $(HOST_COMMON_CFLAGS) -fdata-sections $(BACKEND_WERROR) $(BACKEND_INCLUDES) $(HOST_DEFINES) \
    $(HOST_EXTRA_CFLAGS) $(BACKEND_CFLAGS)
# The backend compiled, then with its data gathered into the sections the rig resets.
HOST_BACKEND_OBJECT := $(HOST_BUILD_DIR)/backend.o
HOST_BACKEND_LINKED := $(HOST_BUILD_DIR)/backend-sections.o
# Static, so qemu-i386 needs no 32-bit loader or libraries to run it.
HOST_LDFLAGS := -m32 -static $(HOST_EXTRA_CFLAGS)
HOST_HEADERS := $(wildcard target/include/*.h target/include/supervisor/*.h \
    $(foreach dir,$(HOST_CORE_DIRS),$(dir)/*.h))

# Empty when this kernel runs 32-bit x86 programs itself, else the emulator to run them with.
# Recursive (=): probed only when a host recipe needs it.
HOST_RUNNER = $(shell probe=$$(mktemp -d) && printf 'int main(void){return 0;}' > $$probe/p.c && \
    $(HOST_CC) -m32 -static -o $$probe/p $$probe/p.c 2>/dev/null && \
    { $$probe/p 2>/dev/null || echo qemu-i386; }; rm -rf $$probe)

.PHONY: host host-path host-gc-test host-clean

host: $(HOST_PROGRAM)

host-path:
	@echo $(HOST_PROGRAM)

$(HOST_ELF): $(HOST_SOURCES) $(HOST_HEADERS) $(HOST_BACKEND_LINKED) target/host.mk
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_CFLAGS) $(HOST_SOURCES) $(HOST_BACKEND_LINKED) $(HOST_LDFLAGS) -o $@

$(HOST_BACKEND_OBJECT): $(BACKEND_SOURCE) target/host.mk target/backend.mk
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_BACKEND_CFLAGS) -MMD -MP -c $< -o $@

$(HOST_BACKEND_LINKED): $(HOST_BACKEND_OBJECT) $(BACKEND_SECTIONS_SCRIPT)
	$(HOST_LD) -m elf_i386 -r -d -T $(BACKEND_SECTIONS_SCRIPT) -o $@ $<

-include $(HOST_BACKEND_OBJECT:.o=.d)

$(HOST_PROGRAM): $(HOST_ELF)
	printf '#!/bin/sh\nexec %s "$$(dirname "$$0")/heaprig-host.elf" "$$@"\n' '$(HOST_RUNNER)' > $@
	chmod +x $@

$(HOST_GC_TEST): target/vm/gc.c target/vm/gc_test.c $(HOST_HEADERS) target/host.mk
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_CFLAGS) target/vm/gc.c target/vm/gc_test.c $(HOST_LDFLAGS) -o $@

host-gc-test: $(HOST_GC_TEST)
	$(HOST_RUNNER) $(HOST_GC_TEST)

host-clean:
	rm -rf build/host
