# The Cortex-M3 firmware for QEMU mps2-an385, one build per variant of the build-time settings and
# per backend (target/backend.mk):
#   make firmware SLOTS=8 MOVE=1 DEBUG=0   ->  build/fw/s8-m1-d0/heaprig.elf (+ heaprig.map)
#   make firmware BACKEND=my/memory.c      ->  build/fw/s8-m1-d0-<hash>/heaprig.elf
#   make firmware-path ...                 prints where that ELF is (for the harness)
# Objects live per build folder and header dependencies are tracked (-MMD -MP), so only what
# changed is rebuilt. The harness calls this target for every variant its scenarios ask for.
# Included by the top-level Makefile; paths are relative to the repository root.

SLOTS ?= 8
MOVE ?= 1
DEBUG ?= 0

include target/backend.mk

FW_CC := arm-none-eabi-gcc
FW_LD := arm-none-eabi-ld
FW_VARIANT := s$(SLOTS)-m$(MOVE)-d$(DEBUG)
FW_BUILD_DIR := build/fw/$(FW_VARIANT)$(BACKEND_TAG)
FW_ELF := $(FW_BUILD_DIR)/heaprig.elf
FW_MAP := $(FW_BUILD_DIR)/heaprig.map
FW_BOARD_DIR := target/board/mps2-an385
FW_LINKER_SCRIPT := $(FW_BOARD_DIR)/linker.ld

# The platform-neutral core plus the board: every .c below these folders, except the host-only
# unit tests (*_test.c, each with its own main). The backend is built apart (below).
FW_CORE_DIRS := target/rig target/vm target/clients target/interp
FW_SOURCES := $(filter-out %_test.c,$(sort $(shell find $(FW_CORE_DIRS) $(FW_BOARD_DIR) \
    -name '*.c' 2>/dev/null)))
FW_OBJECTS := $(patsubst target/%.c,$(FW_BUILD_DIR)/%.o,$(FW_SOURCES))
# The backend compiled, then with its data gathered into the sections the rig resets.
FW_BACKEND_OBJECT := $(FW_BUILD_DIR)/backend.o
FW_BACKEND_LINKED := $(FW_BUILD_DIR)/backend-sections.o
# target/ itself for the core's "vm/gc.h"-style includes; each folder for plain "gc.h".
FW_INCLUDES := -Itarget -Itarget/include $(addprefix -I,$(FW_CORE_DIRS))

FW_ARCH := -mcpu=cortex-m3 -mthumb
FW_SETTINGS := -DSUPERVISOR_SLOTS=$(SLOTS) -DSUPERVISOR_MOVE_SUPPORT=$(MOVE) -DHEAPRIG_DEBUG=$(DEBUG)
FW_COMMON_CFLAGS := $(FW_ARCH) -std=c11 -Os -g3 -Wall -Wextra -ffunction-sections -fdata-sections
FW_CFLAGS := $(FW_COMMON_CFLAGS) -Werror $(FW_INCLUDES) $(FW_SETTINGS)
FW_BACKEND_CFLAGS := $(FW_COMMON_CFLAGS) $(BACKEND_WERROR) $(BACKEND_INCLUDES) $(FW_SETTINGS) \
    $(BACKEND_CFLAGS)
FW_LINK_FLAGS := $(FW_ARCH) --specs=nano.specs -nostartfiles -Wl,--gc-sections -T $(FW_LINKER_SCRIPT)
FW_LDFLAGS := $(FW_LINK_FLAGS) -Wl,-Map=$(FW_MAP)

.PHONY: firmware firmware-path firmware-clean
firmware: $(FW_ELF)

firmware-path:
	@echo $(FW_ELF)

$(FW_ELF): $(FW_OBJECTS) $(FW_BACKEND_LINKED) $(FW_LINKER_SCRIPT)
	$(FW_CC) $(FW_LDFLAGS) -o $@ $(FW_OBJECTS) $(FW_BACKEND_LINKED)

# Also rebuilt when this file (the flags) changes.
$(FW_BUILD_DIR)/%.o: target/%.c target/firmware.mk
	@mkdir -p $(@D)
	$(FW_CC) $(FW_CFLAGS) -MMD -MP -c $< -o $@

$(FW_BACKEND_OBJECT): $(BACKEND_SOURCE) target/firmware.mk target/backend.mk
	@mkdir -p $(@D)
	$(FW_CC) $(FW_BACKEND_CFLAGS) -MMD -MP -c $< -o $@

$(FW_BACKEND_LINKED): $(FW_BACKEND_OBJECT) $(BACKEND_SECTIONS_SCRIPT)
	$(FW_LD) -r -d -T $(BACKEND_SECTIONS_SCRIPT) -o $@ $<

-include $(FW_OBJECTS:.o=.d) $(FW_BACKEND_OBJECT:.o=.d)

firmware-clean:
	rm -rf build/fw
