# Which backend (supervisor heap allocator) a build links, and where that build lives. Included by
# target/firmware.mk and target/host.mk; paths are relative to the repository root. See
# target/BACKENDS.md.
#
#   BACKEND=path/to/file.c               the backend's one source file (default: ours)
#   BACKEND_ROOT=dir BACKEND=rel/path.c  a file inside a source tree; dir is also searched for
#                                        includes, after the rig's own headers (target/include)
#                                        and the runtime compatibility headers (target/compat),
#                                        so ours shadow the tree's own py/, supervisor/ headers
#   BACKEND_CFLAGS=...                   extra flags for the backend only (feature macros,
#                                        -DNDEBUG, -std=gnu11, -Wno-error, ...)
#
# Each distinct backend gets its own build folder, named by the firmware variant plus a hash of
# the backend's path, content and settings (BACKEND_TAG), so switching back and forth rebuilds
# nothing. The default backend, with no BACKEND_CFLAGS, keeps the plain variant folder.

BACKEND_DEFAULT := target/allocator/supervisor_heap.c
BACKEND ?= $(BACKEND_DEFAULT)
BACKEND_ROOT ?=
BACKEND_CFLAGS ?=
BACKEND_SOURCE := $(if $(BACKEND_ROOT),$(BACKEND_ROOT)/$(BACKEND),$(BACKEND))
BACKEND_SECTIONS_SCRIPT := target/backend_sections.ld

ifeq ($(wildcard $(BACKEND_SOURCE)),)
$(error BACKEND: $(BACKEND_SOURCE) does not exist)
endif

# Our own backend is held to the rig's -Werror; a foreign one is compiled as its authors wrote
# it, warnings shown but not fatal (add -Werror to BACKEND_CFLAGS to be strict).
BACKEND_IS_DEFAULT := $(if $(strip $(BACKEND_CFLAGS)),,$(filter $(abspath $(BACKEND_DEFAULT)),$(abspath $(BACKEND_SOURCE))))
BACKEND_WERROR := $(if $(filter $(abspath $(BACKEND_DEFAULT)),$(abspath $(BACKEND_SOURCE))),-Werror)
# target/compat (py/gc.h, <assert.h>, ...) serves code written against the runtime; our own
# backend includes nothing from it.
BACKEND_INCLUDES := -Itarget/include -Itarget/compat $(if $(BACKEND_ROOT),-I$(BACKEND_ROOT))

backend_quote = '$(subst ','\'',$(1))'
BACKEND_KEY := $(abspath $(BACKEND_SOURCE)) $(if $(BACKEND_ROOT),$(abspath $(BACKEND_ROOT))) $(BACKEND_CFLAGS)
BACKEND_HASH := $(shell { printf '%s\n' $(call backend_quote,$(BACKEND_KEY)); \
    cat $(call backend_quote,$(BACKEND_SOURCE)); } | sha256sum | cut -c1-12)
BACKEND_TAG := $(if $(BACKEND_IS_DEFAULT),,-$(BACKEND_HASH))
