# The Cortex-M3 firmware for QEMU mps2-an385, one build per variant of the build-time settings:
#   make firmware SLOTS=8 MOVE=1 DEBUG=0   ->  build/fw/s8-m1-d0/heaprig.elf (+ heaprig.map)
# Objects live per variant and header dependencies are tracked (-MMD -MP), so only what changed is
# rebuilt. The harness calls this target for every variant its scenarios ask for. Included by the
# top-level Makefile; paths are relative to the repository root.

SLOTS ?= 8
MOVE ?= 1
DEBUG ?= 0

FW_CC := arm-none-eabi-gcc
FW_VARIANT := s$(SLOTS)-m$(MOVE)-d$(DEBUG)
FW_BUILD_DIR := build/fw/$(FW_VARIANT)
FW_ELF := $(FW_BUILD_DIR)/heaprig.elf
FW_MAP := $(FW_BUILD_DIR)/heaprig.map
FW_BOARD_DIR := target/board/mps2-an385
FW_LINKER_SCRIPT := $(FW_BOARD_DIR)/linker.ld

# The platform-neutral core plus the board: every .c below these folders, except the host-only
# unit tests (*_test.c, each with its own main).
FW_CORE_DIRS := target/allocator target/vm target/clients target/interp
FW_SOURCES := $(filter-out %_test.c,$(sort $(shell find $(FW_CORE_DIRS) $(FW_BOARD_DIR) \
    -name '*.c' 2>/dev/null)))
FW_OBJECTS := $(patsubst target/%.c,$(FW_BUILD_DIR)/%.o,$(FW_SOURCES))
# target/ itself for the core's "vm/gc.h"-style includes; each folder for plain "gc.h".
FW_INCLUDES := -Itarget -Itarget/include $(addprefix -I,$(FW_CORE_DIRS))

FW_ARCH := -mcpu=cortex-m3 -mthumb
FW_CFLAGS := $(FW_ARCH) -std=c11 -Os -g3 -Wall -Wextra -Werror -ffunction-sections -fdata-sections \
    $(FW_INCLUDES) -DSUPERVISOR_SLOTS=$(SLOTS) -DSUPERVISOR_MOVE_SUPPORT=$(MOVE) \
    -DHEAPRIG_DEBUG=$(DEBUG)
FW_LDFLAGS := $(FW_ARCH) --specs=nano.specs -nostartfiles -Wl,--gc-sections -T $(FW_LINKER_SCRIPT) \
    -Wl,-Map=$(FW_MAP)

.PHONY: firmware firmware-clean
firmware: $(FW_ELF)

$(FW_ELF): $(FW_OBJECTS) $(FW_LINKER_SCRIPT)
	$(FW_CC) $(FW_LDFLAGS) -o $@ $(FW_OBJECTS)

# Also rebuilt when this file (the flags) changes.
$(FW_BUILD_DIR)/%.o: target/%.c target/firmware.mk
	@mkdir -p $(@D)
	$(FW_CC) $(FW_CFLAGS) -MMD -MP -c $< -o $@

-include $(FW_OBJECTS:.o=.d)

firmware-clean:
	rm -rf build/fw
