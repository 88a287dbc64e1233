# A multi-build image (target/rig/builds.h): one firmware holding several backend builds, so that
# one QEMU boot runs a batch of scenarios asking for different builds or backends
# (harness/heaprig/batch.py):
#   make firmware-multi BUILDS="s3-m1-d0 s8-m1-d1"  ->  build/fw/multi/s3-m1-d0+s8-m1-d1/heaprig.elf
#   make firmware-multi-path BUILDS=...              prints where that ELF is
# A build is named by its ordinary image's folder under build/fw/ (target/firmware.mk): the
# variant, plus the backend's hash for another backend than ours. The image takes each build's
# backend object from there, so each build must have been made first (`make firmware SLOTS=...
# [BACKEND=...]`; the harness does it). Each copy gets its interface
# functions renamed heaprig_<tag>_<function> (tag: the name with '_' for '-') and every other
# global of it made local (objcopy), so the copies link side by side; the rig's core is compiled
# once, without settings, and target/multi/multi_build.c passes every backend call on to the
# build the batch's `select_build` event chose. The builds keep BUILDS's order, sorted.
# Included by the top-level Makefile after target/firmware.mk, whose tools and flags it shares.

BUILDS ?=
MULTI_BUILDS := $(sort $(BUILDS))
multi_empty :=
multi_space := $(multi_empty) $(multi_empty)
MULTI_DIR := build/fw/multi/$(subst $(multi_space),+,$(MULTI_BUILDS))
MULTI_ELF := $(MULTI_DIR)/heaprig.elf
MULTI_LIST := $(MULTI_DIR)/multi_builds.h

# The backend interface (heaprig_backend.h): the six SPEC functions and the optional extras.
MULTI_API := allocate_memory allocate_remaining_memory free_memory allocation_from_ptr \
    get_allocation_length supervisor_move_memory heap_check heap_walk supervisor_heap_take_misuse

# A build's name is s<slots>-m<move>-d<debug>[-<backend hash>]: $(call multi_field,letter,n,name).
multi_field = $(patsubst $(1)%,%,$(word $(2),$(subst -, ,$(3))))
multi_slots = $(call multi_field,s,1,$(1))
multi_move = $(call multi_field,m,2,$(1))
multi_debug = $(call multi_field,d,3,$(1))
multi_tag = $(subst -,_,$(1))
# Only a name target/firmware.mk gave a build folder is a build, so one check covers both a
# misspelt name and a build not made yet.
MULTI_UNBUILT := $(strip $(foreach b,$(MULTI_BUILDS),$(if $(wildcard \
    build/fw/$(b)/backend-sections.o),,$(b))))

MULTI_SOURCES := $(filter-out target/rig/single_build.c,$(FW_SOURCES)) target/multi/multi_build.c
MULTI_OBJECTS := $(patsubst target/%.c,$(MULTI_DIR)/%.o,$(MULTI_SOURCES))
MULTI_BACKENDS := $(foreach b,$(MULTI_BUILDS),$(MULTI_DIR)/backend/$(b).o)
MULTI_CFLAGS := $(FW_COMMON_CFLAGS) -Werror $(FW_INCLUDES) -I$(MULTI_DIR)
MULTI_OBJCOPY := arm-none-eabi-objcopy

.PHONY: firmware-multi firmware-multi-path multi-builds-given
firmware-multi: multi-builds-given $(MULTI_ELF)

firmware-multi-path: multi-builds-given
	@echo $(MULTI_ELF)

multi-builds-given:
	$(if $(MULTI_BUILDS),,$(error BUILDS: name the builds, e.g. BUILDS="s3-m1-d0 s8-m1-d1"))
	$(if $(MULTI_UNBUILT),$(error BUILDS: no build folder build/fw/NAME for $(MULTI_UNBUILT) \
	    (a name is s<slots>-m<0|1>-d<0|1>[-<backend hash>]; make the build first with \
	    make firmware SLOTS=... MOVE=... DEBUG=... [BACKEND=...])))

$(MULTI_ELF): $(MULTI_OBJECTS) $(MULTI_BACKENDS) $(FW_LINKER_SCRIPT)
	$(FW_CC) $(FW_LINK_FLAGS) -Wl,-Map=$(MULTI_DIR)/heaprig.map -o $@ $(MULTI_OBJECTS) \
	    $(MULTI_BACKENDS)

$(MULTI_DIR)/%.o: target/%.c target/multi.mk target/firmware.mk
	@mkdir -p $(@D)
	$(FW_CC) $(MULTI_CFLAGS) -MMD -MP -c $< -o $@

$(MULTI_DIR)/multi/multi_build.o: $(MULTI_LIST)

# One line per build, for multi_build.c's X-macro.
$(MULTI_LIST): target/multi.mk
	@mkdir -p $(@D)
	printf '%s\n' $(foreach b,$(MULTI_BUILDS),'HEAPRIG_BUILD($(call multi_tag,$(b)), $(call \
	    multi_slots,$(b)), $(call multi_move,$(b)), $(call multi_debug,$(b)))') > $@

# A build's copy: the ordinary build's gathered backend object, renamed and localised.
$(MULTI_DIR)/backend/%.o: build/fw/%/backend-sections.o target/multi.mk
	@mkdir -p $(@D)
	$(MULTI_OBJCOPY) $(foreach f,$(MULTI_API),--redefine-sym $(f)=heaprig_$(call \
	    multi_tag,$*)_$(f)) $< $(@:.o=.renamed.o)
	$(MULTI_OBJCOPY) $(foreach f,$(MULTI_API),--keep-global-symbol heaprig_$(call \
	    multi_tag,$*)_$(f)) $(@:.o=.renamed.o) $@

-include $(MULTI_OBJECTS:.o=.d)
