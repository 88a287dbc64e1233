# The allocator benchmark (issue 6): the bench program of target/board/bench/ (a main for the
# mps2-an385 board, reusing its startup, semihosting and linker script) with the firmware core
# and one backend (target/backend.mk: BACKEND=..., default ours). `make bench` runs it for our
# backend and the baseline (harness/heaprig/bench.py); these targets only build it:
#   make bench-firmware [BACKEND=...]   ->  build/bench/fw/s128-m1-d0[-<hash>]/heaprig-bench.elf
#   make bench-firmware-path ...        prints where that ELF is
# The bench always builds the release variant with BENCH_SLOTS handles: a state of 64 live
# blocks takes 128 before half of them are freed (target/board/bench/bench.c).
# Included by the top-level Makefile; paths are relative to the repository root.

BENCH_SLOTS := 128

include target/backend.mk

BENCH_CC := arm-none-eabi-gcc
BENCH_LD := arm-none-eabi-ld
BENCH_BUILD_DIR := build/bench/fw/s$(BENCH_SLOTS)-m1-d0$(BACKEND_TAG)
BENCH_ELF := $(BENCH_BUILD_DIR)/heaprig-bench.elf
BENCH_MAP := $(BENCH_BUILD_DIR)/heaprig-bench.map
BENCH_BOARD_DIR := target/board/mps2-an385
BENCH_MAIN_DIR := target/board/bench
BENCH_LINKER_SCRIPT := $(BENCH_BOARD_DIR)/linker.ld

# The firmware core (as target/firmware.mk), the board without its main, and the bench's main.
BENCH_CORE_DIRS := target/rig target/vm target/clients target/interp
BENCH_SOURCES := $(filter-out %_test.c,$(sort $(shell find $(BENCH_CORE_DIRS) -name '*.c'))) \
    $(BENCH_BOARD_DIR)/startup.c $(BENCH_BOARD_DIR)/semihosting.c \
    $(sort $(wildcard $(BENCH_MAIN_DIR)/*.c))
BENCH_OBJECTS := $(patsubst target/%.c,$(BENCH_BUILD_DIR)/%.o,$(BENCH_SOURCES))
BENCH_BACKEND_OBJECT := $(BENCH_BUILD_DIR)/backend/backend.o
BENCH_BACKEND_LINKED := $(BENCH_BUILD_DIR)/backend/backend-sections.o
BENCH_INCLUDES := -Itarget -Itarget/include $(addprefix -I,$(BENCH_CORE_DIRS)) -I$(BENCH_BOARD_DIR)

BENCH_ARCH := -mcpu=cortex-m3 -mthumb
BENCH_SETTINGS := -DSUPERVISOR_SLOTS=$(BENCH_SLOTS) -DSUPERVISOR_MOVE_SUPPORT=1 -DHEAPRIG_DEBUG=0
BENCH_COMMON_CFLAGS := $(BENCH_ARCH) -std=c11 -Os -g3 -Wall -Wextra -ffunction-sections \
    -fdata-sections
BENCH_CFLAGS := $(BENCH_COMMON_CFLAGS) -Werror $(BENCH_INCLUDES) $(BENCH_SETTINGS)
BENCH_BACKEND_CFLAGS := $(BENCH_COMMON_CFLAGS) $(BACKEND_WERROR) $(BACKEND_INCLUDES) \
    $(BENCH_SETTINGS) $(BACKEND_CFLAGS)
BENCH_LDFLAGS := $(BENCH_ARCH) --specs=nano.specs -nostartfiles -Wl,--gc-sections \
    -T $(BENCH_LINKER_SCRIPT) -Wl,-Map=$(BENCH_MAP)

.PHONY: bench-firmware bench-firmware-path bench-clean
bench-firmware: $(BENCH_ELF)

bench-firmware-path:
	@echo $(BENCH_ELF)

$(BENCH_ELF): $(BENCH_OBJECTS) $(BENCH_BACKEND_LINKED) $(BENCH_LINKER_SCRIPT)
	$(BENCH_CC) $(BENCH_LDFLAGS) -o $@ $(BENCH_OBJECTS) $(BENCH_BACKEND_LINKED)

$(BENCH_BUILD_DIR)/%.o: target/%.c target/bench.mk
	@mkdir -p $(@D)
	$(BENCH_CC) $(BENCH_CFLAGS) -MMD -MP -c $< -o $@

$(BENCH_BACKEND_OBJECT): $(BACKEND_SOURCE) target/bench.mk target/backend.mk
	@mkdir -p $(@D)
	$(BENCH_CC) $(BENCH_BACKEND_CFLAGS) -MMD -MP -c $< -o $@

$(BENCH_BACKEND_LINKED): $(BENCH_BACKEND_OBJECT) $(BACKEND_SECTIONS_SCRIPT)
	$(BENCH_LD) -r -d -T $(BACKEND_SECTIONS_SCRIPT) -o $@ $<

-include $(BENCH_OBJECTS:.o=.d) $(BENCH_BACKEND_OBJECT:.o=.d)

bench-clean:
	rm -rf build/bench
