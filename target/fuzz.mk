# Native fuzzing of the firmware core (allocator, VM model, clients, interpreter) with libFuzzer,
# AddressSanitizer and UndefinedBehaviorSanitizer: an x86-64 build, since the 32-bit host build
# runs under qemu-i386 here, where ASan does not work. Included by the top-level Makefile.
#
#   fuzz-native        build, make the seed corpus from the committed scenarios, fuzz for
#                      FUZZ_NATIVE_SECONDS (or FUZZ_NATIVE_RUNS inputs), convert every crash
#                      input under $(FUZZ_NATIVE_OUT)/crashes/ to an event stream (and, through
#                      `python -m heaprig.differential --replay`, a scenario); fails on a crash
#   fuzz-native-build  build/fuzz-native/$(variant)/fuzz-events (libFuzzer) and
#                      build/fuzz-native/$(variant)/$(FUZZ_RUN_CC)/fuzz-events-run (one input,
#                      --dump)
#   fuzz-native-runner only the latter
#   fuzz-native-clean  remove build/fuzz-native
#
# SLOTS, MOVE, DEBUG choose the variant as for the firmware. harness/heaprig/fuzz_native.py does
# the seeds, the run and the conversion; target/board/fuzz/ is the board and the input decoder.

SLOTS ?= 8
MOVE ?= 1
DEBUG ?= 0

# How long `make fuzz-native` fuzzes, in seconds, and at most how many inputs (-1: no limit).
FUZZ_NATIVE_SECONDS ?= 30
FUZZ_NATIVE_RUNS ?= -1
# Corpus, seeds and crashes (the binaries stay under build/fuzz-native/ whatever this says).
FUZZ_NATIVE_OUT ?= build/fuzz-native
# Where seeds come from: scenario YAML files or directories; empty for no seeds.
FUZZ_NATIVE_SEEDS ?= scenarios
# More libFuzzer options, e.g. FUZZ_NATIVE_ARGS="-seed=1 -jobs=2".
FUZZ_NATIVE_ARGS ?=
# 1 or 2: a build with a deliberate bug (target/board/fuzz/fuzz_board.c, planted_bug: 1 an
# out-of-bounds write, 2 a corrupted handle), for the test that proves the fuzzer finds bugs.
# Never for real runs.
FUZZ_NATIVE_PLANTED_BUG ?= 0

# libFuzzer comes with clang; the one-input runner builds with clang or gcc.
FUZZ_CC ?= clang
FUZZ_RUN_CC ?= $(FUZZ_CC)

FUZZ_PLANTED_SUFFIX := $(strip $(if $(filter-out 0,$(FUZZ_NATIVE_PLANTED_BUG)), \
    -planted$(FUZZ_NATIVE_PLANTED_BUG)))
FUZZ_VARIANT := s$(SLOTS)-m$(MOVE)-d$(DEBUG)$(FUZZ_PLANTED_SUFFIX)
FUZZ_BUILD_DIR := build/fuzz-native/$(FUZZ_VARIANT)
FUZZ_BINARY := $(FUZZ_BUILD_DIR)/fuzz-events
FUZZ_RUN_DIR := $(FUZZ_BUILD_DIR)/$(notdir $(FUZZ_RUN_CC))
FUZZ_RUNNER := $(FUZZ_RUN_DIR)/fuzz-events-run

# The core and the board; the backend (our allocator) is built apart, as for the firmware and the
# host build, so that the rig can put its data back at every `reset` (target/BACKENDS.md).
FUZZ_CORE_DIRS := target/rig target/vm target/clients target/interp
FUZZ_BOARD_DIR := target/board/fuzz
FUZZ_CORE_SOURCES := $(filter-out %_test.c,$(sort $(wildcard $(addsuffix /*.c,$(FUZZ_CORE_DIRS)))))
FUZZ_COMMON_SOURCES := $(FUZZ_CORE_SOURCES) \
    $(FUZZ_BOARD_DIR)/fuzz_board.c $(FUZZ_BOARD_DIR)/event_decoder.c
FUZZ_OBJECTS := $(patsubst target/%.c,$(FUZZ_BUILD_DIR)/fuzz/%.o, \
    $(FUZZ_COMMON_SOURCES) $(FUZZ_BOARD_DIR)/fuzz_events.c) $(FUZZ_BUILD_DIR)/fuzz/backend-sections.o
FUZZ_RUN_OBJECTS := $(patsubst target/%.c,$(FUZZ_RUN_DIR)/obj/%.o, \
    $(FUZZ_COMMON_SOURCES) $(FUZZ_BOARD_DIR)/fuzz_run.c) $(FUZZ_RUN_DIR)/obj/backend-sections.o
FUZZ_BACKEND_SOURCE := target/allocator/supervisor_heap.c

FUZZ_CFLAGS := -std=c11 -Wall -Wextra -Werror -g -O1 -fno-omit-frame-pointer \
    -Itarget -Itarget/include -Itarget/allocator $(addprefix -I,$(FUZZ_CORE_DIRS)) \
    -DSUPERVISOR_SLOTS=$(SLOTS) -DSUPERVISOR_MOVE_SUPPORT=$(MOVE) -DHEAPRIG_DEBUG=$(DEBUG) \
    -DHEAPRIG_FUZZ_PLANTED_BUG=$(FUZZ_NATIVE_PLANTED_BUG) -DHEAPRIG_POKE=0
# No `poke` (heaprig_config.h): a broken heap found here must be a defect, never an injected one.
# Every finding must stop the run, so UBSan does not recover. Its alignment check is off, and only
# it: on x86-64 the block header (a pointer and a length word) is 16 bytes and wants 8-byte
# alignment, but data lengths are multiples of 4, so a block that follows one of length 4 mod 8
# starts at 4 mod 8. The 32-bit targets need only the 4-byte alignment every block has, and
# x86-64 reads such words without a fault; every other UBSan check stays on.
FUZZ_SANITIZERS := address,undefined
FUZZ_SANITIZE := -fsanitize=$(FUZZ_SANITIZERS) -fno-sanitize=alignment -fno-sanitize-recover=all

# The backend's writable data is reset by the rig with memcpy/memset over its whole sections; ASan
# redzones around its globals would turn that into reports, so only its globals go without them
# (its heap and stack accesses stay checked). -fdata-sections lets the section script tell
# the backend's data from the instrumentation's.
fuzz_backend_cflags = -fdata-sections \
    $(if $(findstring clang,$(1)),-mllvm -asan-globals=0,--param asan-globals=0)

.PHONY: fuzz-native fuzz-native-build fuzz-native-runner fuzz-native-clean

fuzz-native-build: $(FUZZ_BINARY) $(FUZZ_RUNNER)
fuzz-native-runner: $(FUZZ_RUNNER)

# The core is instrumented for libFuzzer's coverage feedback (fuzzer-no-link); the link adds
# libFuzzer's main.
$(FUZZ_BINARY): $(FUZZ_OBJECTS)
	$(FUZZ_CC) -fsanitize=fuzzer,$(FUZZ_SANITIZERS) -o $@ $(FUZZ_OBJECTS)

$(FUZZ_BUILD_DIR)/fuzz/%.o: target/%.c target/fuzz.mk
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SANITIZE) -fsanitize=fuzzer-no-link \
	    -MMD -MP -c $< -o $@

$(FUZZ_RUNNER): $(FUZZ_RUN_OBJECTS)
	$(FUZZ_RUN_CC) -fsanitize=$(FUZZ_SANITIZERS) -o $@ $(FUZZ_RUN_OBJECTS)

$(FUZZ_RUN_DIR)/obj/%.o: target/%.c target/fuzz.mk
	@mkdir -p $(@D)
	$(FUZZ_RUN_CC) $(FUZZ_CFLAGS) $(FUZZ_SANITIZE) -MMD -MP -c $< -o $@

# The backend: compiled alone, then its data gathered into the sections the rig resets.
$(FUZZ_BUILD_DIR)/fuzz/backend.o: $(FUZZ_BACKEND_SOURCE) target/fuzz.mk
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SANITIZE) -fsanitize=fuzzer-no-link \
	    $(call fuzz_backend_cflags,$(FUZZ_CC)) -MMD -MP -c $< -o $@

$(FUZZ_RUN_DIR)/obj/backend.o: $(FUZZ_BACKEND_SOURCE) target/fuzz.mk
	@mkdir -p $(@D)
	$(FUZZ_RUN_CC) $(FUZZ_CFLAGS) $(FUZZ_SANITIZE) $(call fuzz_backend_cflags,$(FUZZ_RUN_CC)) \
	    -MMD -MP -c $< -o $@

$(FUZZ_BUILD_DIR)/fuzz/backend-sections.o: $(FUZZ_BUILD_DIR)/fuzz/backend.o $(BACKEND_SECTIONS_SCRIPT)
	ld -r -d -T $(BACKEND_SECTIONS_SCRIPT) -o $@ $<

$(FUZZ_RUN_DIR)/obj/backend-sections.o: $(FUZZ_RUN_DIR)/obj/backend.o $(BACKEND_SECTIONS_SCRIPT)
	ld -r -d -T $(BACKEND_SECTIONS_SCRIPT) -o $@ $<

-include $(FUZZ_OBJECTS:.o=.d) $(FUZZ_RUN_OBJECTS:.o=.d) $(FUZZ_BUILD_DIR)/fuzz/backend.d \
    $(FUZZ_RUN_DIR)/obj/backend.d

fuzz-native: deps venv fuzz-native-build
	$(VENV)/bin/python -m heaprig.fuzz_native run --binary $(FUZZ_BINARY) \
	    --runner $(FUZZ_RUNNER) --out $(FUZZ_NATIVE_OUT) --seconds $(FUZZ_NATIVE_SECONDS) \
	    --runs=$(FUZZ_NATIVE_RUNS) --seeds="$(FUZZ_NATIVE_SEEDS)" \
	    --libfuzzer-args="$(FUZZ_NATIVE_ARGS)"

fuzz-native-clean:
	rm -rf build/fuzz-native
