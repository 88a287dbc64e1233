/*
 * The default backend's own header: the overridable assertion it uses. Everything the rig sees
 * of it (the SPEC API, the walker, the checker, the misuse report) is in heaprig_backend.h.
 */
#ifndef SUPERVISOR_HEAP_H
#define SUPERVISOR_HEAP_H

#include "heaprig_backend.h"
#include "heaprig_config.h"

/* Overridable (TLSF style): -Dsupervisor_heap_assert(e)=... replaces the rig's fault report. */
#ifndef supervisor_heap_assert
#define supervisor_heap_assert(expr) \
    ((expr) ? (void)0 : heaprig_assert_failed(__FILE__, __LINE__, #expr))
#endif

#endif
