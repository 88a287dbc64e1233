/*
 * py/mpstate.h for a backend written against the embedded runtime (target/compat/README.md).
 *
 * MP_STATE_VM(field) names a field of the runtime's VM state. Supervisor memory code reads and
 * writes one, `first_embedded_allocation` (the head of the embedded list, a GC root), as an
 * lvalue and takes its address: it maps onto the rig's root word, heaprig_embedded_root, which
 * the GC model scans and every reset clears. Any other field is a compile error naming
 * HEAPRIG_VM_STATE_<field>: the rig does not model it.
 */
#ifndef HEAPRIG_COMPAT_PY_MPSTATE_H
#define HEAPRIG_COMPAT_PY_MPSTATE_H

#include "heaprig_backend.h"
#include "py/mpconfig.h"

#define HEAPRIG_VM_STATE_first_embedded_allocation heaprig_embedded_root

#define MP_STATE_VM(field) (HEAPRIG_VM_STATE_##field)

#endif
