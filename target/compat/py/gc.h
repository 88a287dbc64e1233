/*
 * py/gc.h for a backend written against the embedded runtime (target/compat/README.md).
 *
 * Brings in the runtime headers supervisor memory code expects through it (configuration, VM
 * state, allocation calls) and answers whether a VM's GC heap can serve allocations now.
 */
#ifndef HEAPRIG_COMPAT_PY_GC_H
#define HEAPRIG_COMPAT_PY_GC_H

#include "heaprig_backend.h"
#include "py/mpconfig.h"
#include "py/misc.h"
#include "py/mpstate.h"

/* True while a VM runs (between vm_start and vm_exit in a scenario). */
static inline bool gc_alloc_possible(void) {
    return heaprig_gc_alloc_possible();
}

#endif
