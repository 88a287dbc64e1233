/*
 * py/misc.h for a backend written against the embedded runtime (target/compat/README.md).
 *
 * The runtime's GC-backed allocation calls, as supervisor memory code uses them for embedded
 * allocations (SPEC R3 step 4, R9), mapped onto the rig's GC model.
 */
#ifndef HEAPRIG_COMPAT_PY_MISC_H
#define HEAPRIG_COMPAT_PY_MISC_H

#include "heaprig_backend.h"
#include "py/mpconfig.h"

/* `size` bytes from the GC heap, long-lived ones from its high end; NULL when they cannot be had
 * even after a collection (the runtime's "maybe": no MemoryError). */
static inline void *m_malloc_maybe(size_t size, bool long_lived) {
    return heaprig_gc_alloc(size, long_lived);
}

#if MICROPY_MALLOC_USES_ALLOCATED_SIZE
/* The size is the caller's bookkeeping; the GC model knows each block's extent itself. */
static inline void m_free(void *ptr, size_t bytes) {
    (void)bytes;
    heaprig_gc_free(ptr);
}
#else
static inline void m_free(void *ptr) {
    heaprig_gc_free(ptr);
}
#endif

#endif
