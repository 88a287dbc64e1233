# heaprig — the two commands a newcomer needs:
#   make run    install what is missing, build, run the demo scenarios and show their memory maps
#   make test   install what is missing, run the whole suite (scenarios + the harness's own tests)
# Everything else here serves those two.

# The Debian packages the rig needs. Python libraries come from Debian too (there is no PyPI):
# they install for /usr/bin/python3, which is why the virtualenv below is built from it.
DEBIAN_PACKAGES := make qemu-system-arm gcc-arm-none-eabi libnewlib-arm-none-eabi binutils-arm-none-eabi \
    gdb-multiarch gcc libc6-dev gcc-multilib qemu-user \
    python3 python3-venv python3-pip python3-setuptools python3-pytest python3-yaml \
    python3-hypothesis python3-pytest-xdist python3-jsonschema python3-ruamel.yaml python3-pil \
    chromium gcovr python3-matplotlib clang libclang-rt-14-dev

SYSTEM_PYTHON := /usr/bin/python3
VENV := .venv
VENV_STAMP := $(VENV)/.heaprig-installed
HEAPRIG := $(VENV)/bin/heaprig
PYTEST := $(VENV)/bin/python -m pytest
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

# Extra arguments for pytest, e.g. `make test PYTEST_ARGS="-x -k holes"`.
PYTEST_ARGS ?=
# The backend to run the scenarios on, given on make's command line (target/BACKENDS.md):
#   make test BACKEND=path/memory.c [BACKEND_ROOT=dir] [BACKEND_CFLAGS="-DCIRCUITPY_USB_HID=1"]
# passed to pytest as --heaprig-backend* (paths relative to this folder, as for make).
make_quote = '$(subst ','\'',$(1))'
PYTEST_BACKEND_ARGS = \
    $(if $(filter command line,$(origin BACKEND)),$(call make_quote,--heaprig-backend=$(BACKEND))) \
    $(if $(filter command line,$(origin BACKEND_ROOT)),$(call make_quote,--heaprig-backend-root=$(BACKEND_ROOT))) \
    $(if $(filter command line,$(origin BACKEND_CFLAGS)),$(call make_quote,--heaprig-backend-cflags=$(BACKEND_CFLAGS)))

.PHONY: all run test size deps venv clean help coverage mutants bench fuzz defect-backends
all: run

help:
	@sed -n '1,4p' Makefile

# Installs only what is missing, with one `apt-get update` first, so a second run costs nothing.
deps:
	@missing=$$(for package in $(DEBIAN_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$package 2>/dev/null | grep -q '^install ok installed' || echo $$package; \
	done); \
	if [ -n "$$missing" ]; then \
	    echo "heaprig: installing Debian packages:" $$missing; \
	    $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

venv: $(VENV_STAMP)
$(VENV_STAMP): pyproject.toml | deps
	$(SYSTEM_PYTHON) -m venv --system-site-packages $(VENV)
	$(VENV)/bin/pip install -q --no-deps --no-build-isolation --no-index -e .
	touch $@

run: deps venv
	$(HEAPRIG) run scenarios/demo

# The backend reaches pytest as options only: make would also hand BACKEND* to every make the
# harness runs (through the environment and MAKEFLAGS), building the wrong allocator there.
test: deps venv
	env -u MAKEFLAGS -u MFLAGS -u BACKEND -u BACKEND_ROOT -u BACKEND_CFLAGS \
	    $(PYTEST) $(PYTEST_ARGS) $(PYTEST_BACKEND_ARGS)

# The allocator's code size on Cortex-M0/M3, with and without move support (harness/heaprig/code_size.py).
size: deps venv
	$(VENV)/bin/python -m heaprig.code_size

clean: firmware-clean
	rm -rf build $(VENV)

# The firmware variants (target/firmware.mk), the host build of the same sources (target/host.mk)
# and the native libFuzzer build with ASan and UBSan, `make fuzz-native` (target/fuzz.mk).
-include target/firmware.mk
-include target/multi.mk
-include target/host.mk
-include target/bench.mk
-include target/fuzz.mk

# Line and branch coverage of the allocator by the scenarios alone, on instrumented host builds
# kept under build/coverage (harness/heaprig/coverage_report.py).
coverage: deps venv
	$(VENV)/bin/python -m heaprig.coverage_report

# The defective backends D1-D5, our allocator with one defect of the original put back, written
# from their patches (harness/tests/backends/README.md) to build/defects/, to run by hand:
#   make test BACKEND=build/defects/d3_block_carved_before_slot.c BACKEND_CFLAGS=-Itarget/allocator
defect-backends: deps venv
	$(VENV)/bin/python harness/tests/defect_backends.py

# Mutation score of the allocator against the scenarios: each mutant a copy built under
# build/mutants (harness/heaprig/mutants.py). `make mutants MUTANTS_ARGS="--limit 10 --filter R1"`.
MUTANTS_ARGS ?=
mutants: deps venv
	$(VENV)/bin/python -m heaprig.mutants $(MUTANTS_ARGS)

# Allocator cost in instructions, ours against the baseline backend, plus suite throughput and
# code sizes: writes build/bench/bench.md and bench.png and prints the table
# (harness/heaprig/bench.py). `make bench BENCH_ARGS="--quick"` for a coarse sweep.
BENCH_ARGS ?=
bench: deps venv
	$(VENV)/bin/python -m heaprig.bench $(BENCH_ARGS)

# Differential fuzzing (harness/heaprig/differential.py): random scenarios through the reference
# model, the QEMU firmware and the host build, compared after every event; each kind of
# difference is shrunk and written as a scenario under FUZZ_OUT. `make fuzz FUZZ_SECONDS=600`,
# `make fuzz FUZZ_COUNT=20000 FUZZ_SEED=7 FUZZ_TARGET=host`; FUZZ_ARGS takes the command's other
# options (`--variant s3-m1-d1`, `--events 200`, `--shrink 5`). Without FUZZ_SEED, a new seed.
FUZZ_COUNT ?=
FUZZ_SECONDS ?=
FUZZ_SEED ?=
FUZZ_TARGET ?= both
FUZZ_OUT ?= build/fuzz
FUZZ_ARGS ?=
fuzz: deps venv
	$(VENV)/bin/python -m heaprig.differential --target $(FUZZ_TARGET) --out $(FUZZ_OUT) \
	    $(if $(FUZZ_COUNT),--count $(FUZZ_COUNT)) $(if $(FUZZ_SECONDS),--seconds $(FUZZ_SECONDS)) \
	    $(if $(FUZZ_SEED),--seed $(FUZZ_SEED)) $(FUZZ_ARGS)
