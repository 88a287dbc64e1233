/*
 * Build-time configuration of the firmware. Every option can be set with -D on the compiler
 * command line; the Makefile does so per firmware variant (see `make variants`).
 */
#ifndef HEAPRIG_CONFIG_H
#define HEAPRIG_CONFIG_H

/* Number of supervisor_allocation handles in the fixed table. The VM model's own allocations
 * (the stack when it is not fixed, and the GC heap while a VM runs) take slots like any client. */
#ifndef SUPERVISOR_SLOTS
#define SUPERVISOR_SLOTS 8
#endif

/* 1: movable allocations may live in the GC heap while a VM runs and are compacted and promoted
 * at VM exit. 0: move support compiled out (SPEC R14): movable requests are served as immovable
 * ones and supervisor_move_memory() does nothing. */
#ifndef SUPERVISOR_MOVE_SUPPORT
#define SUPERVISOR_MOVE_SUPPORT 1
#endif

/* 1: debug build. Caller errors the allocator refuses (SPEC R2) are reported as `misuse`. */
#ifndef HEAPRIG_DEBUG
#define HEAPRIG_DEBUG 0
#endif

/* 1: the `poke` event (PROTOCOL.md, version 2) writes words into the arena behind the allocator's
 * back, for scenarios that show what the checker and the detectors report on a corrupted heap.
 * 0: the event is unknown (a protocol error); the native fuzzing board builds so, because there a
 * broken heap must only ever mean a defect. */
#ifndef HEAPRIG_POKE
#define HEAPRIG_POKE 1
#endif

/* Largest arena a scenario may ask for, in bytes. It is a static buffer in RAM. */
#ifndef HEAPRIG_ARENA_MAX
#define HEAPRIG_ARENA_MAX (256u * 1024u)
#endif

/* Largest initialised data (.data) a backend may have, in bytes: the rig keeps a copy of it from
 * boot to put back before every scenario (target/rig/backend.c). Zero-initialised data has no
 * limit. */
#ifndef HEAPRIG_BACKEND_DATA_MAX
#define HEAPRIG_BACKEND_DATA_MAX 1024u
#endif

/* Ids the event stream may use for clients and for VM objects. */
#define HEAPRIG_MAX_CLIENTS 64u
#define HEAPRIG_MAX_OBJECTS 64u

_Static_assert(SUPERVISOR_SLOTS >= 1 && SUPERVISOR_SLOTS <= 255, "SUPERVISOR_SLOTS: 1..255");
_Static_assert(SUPERVISOR_MOVE_SUPPORT == 0 || SUPERVISOR_MOVE_SUPPORT == 1,
               "SUPERVISOR_MOVE_SUPPORT is 0 or 1");
_Static_assert(HEAPRIG_DEBUG == 0 || HEAPRIG_DEBUG == 1, "HEAPRIG_DEBUG is 0 or 1");
_Static_assert(HEAPRIG_POKE == 0 || HEAPRIG_POKE == 1, "HEAPRIG_POKE is 0 or 1");
_Static_assert(HEAPRIG_ARENA_MAX % 4u == 0, "HEAPRIG_ARENA_MAX must be word aligned");
_Static_assert(HEAPRIG_BACKEND_DATA_MAX % 8u == 0, "HEAPRIG_BACKEND_DATA_MAX: whole words");

#endif
