# The Cortex-M3 firmware for QEMU mps2-an385, one build per variant of the build-time settings:
#   make firmware SLOTS=8 MOVE=1 DEBUG=0   ->  build/fw/s8-m1-d0/heaprig.elf
# Objects live per variant and header dependencies are tracked (-MMD), so only what changed is
# rebuilt. The harness calls this target for every variant its scenarios ask for.

SLOTS ?= 8
MOVE ?= 1
DEBUG ?= 0

FW_CC := arm-none-eabi-gcc
FW_VARIANT := s$(SLOTS)-m$(MOVE)-d$(DEBUG)
FW_BUILD_DIR := build/fw/$(FW_VARIANT)
FW_ELF := $(FW_BUILD_DIR)/heaprig.elf
FW_BOARD_DIR := target/board/mps2-an385

# The platform-neutral core (every .c of these folders) plus the board.
FW_CORE_DIRS := target/allocator target/vm target/clients target/interp
FW_SOURCES := $(filter-out %_test.c,$(foreach dir,$(FW_CORE_DIRS) $(FW_BOARD_DIR),$(wildcard $(dir)/*.c)))
FW_OBJECTS := $(patsubst target/%.c,$(FW_BUILD_DIR)/%.o,$(FW_SOURCES))

FW_ARCH := -mcpu=cortex-m3 -mthumb
FW_CFLAGS := $(FW_ARCH) -std=c11 -Os -g3 -Wall -Wextra -Werror -ffunction-sections -fdata-sections \
    -Itarget -Itarget/include -Itarget/allocator \
    -DSUPERVISOR_SLOTS=$(SLOTS) -DSUPERVISOR_MOVE_SUPPORT=$(MOVE) -DHEAPRIG_DEBUG=$(DEBUG)
FW_LDFLAGS := $(FW_ARCH) --specs=nano.specs -nostartfiles -Wl,--gc-sections \
    -T $(FW_BOARD_DIR)/linker.ld -Wl,-Map=$(FW_BUILD_DIR)/heaprig.map

.PHONY: firmware firmware-clean
firmware: $(FW_ELF)

$(FW_ELF): $(FW_OBJECTS) $(FW_BOARD_DIR)/linker.ld
	$(FW_CC) $(FW_LDFLAGS) -o $@ $(FW_OBJECTS)

$(FW_BUILD_DIR)/%.o: target/%.c
	@mkdir -p $(dir $@)
	$(FW_CC) $(FW_CFLAGS) -MMD -MP -c $< -o $@

-include $(FW_OBJECTS:.o=.d)

firmware-clean:
	rm -rf build/fw
