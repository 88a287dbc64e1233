/*
 * The backend interface: what a supervisor heap allocator (a *backend*) and the rig give each
 * other. target/BACKENDS.md explains it in prose; this header is the whole contract in C.
 *
 * A backend is one C file (target/allocator/supervisor_heap.c by default, or the user's own
 * through `make firmware BACKEND=...`). Rig-side names only here (heaprig_*): the runtime
 * compatibility headers (supervisor/port.h, py/gc.h, ...) map the runtime's names onto these, so
 * an unchanged foreign source compiles against them.
 *
 * The backend has no init function. Its state is its own file-scope data, which starts as the C
 * program image says (zero, or its initialiser); the rig puts that image back before every
 * scenario (heaprig_backend_reset), so a batch of scenarios in one boot sees a fresh backend each
 * time, exactly as after a boot.
 */
#ifndef HEAPRIG_BACKEND_H
#define HEAPRIG_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "supervisor/memory.h"

/* ==== What a backend provides ================================================================
 * Exactly the six functions of SPEC §1.1, declared in supervisor/memory.h:
 *   allocate_memory, allocate_remaining_memory, free_memory, allocation_from_ptr,
 *   get_allocation_length, supervisor_move_memory.
 * Its header struct is `struct _supervisor_allocation_node` (the embedded list root below has
 * that type), and it must call heaprig_allocations_moved() once at the end of
 * supervisor_move_memory(), with R12 lookups answering while it runs. */

/* ==== What the rig provides to a backend ===================================================== */

/* The arena [bottom, top) of the current scenario, word aligned. Valid from the scenario's reset
 * on; a backend reads them lazily (it has no init function to read them in). */
uint32_t *heaprig_heap_bottom(void);
uint32_t *heaprig_heap_top(void);

/* True while a VM runs and its GC heap can serve allocations. */
bool heaprig_gc_alloc_possible(void);
/* `bytes` from the GC heap, NULL if they cannot be had even after one collection. Long-lived
 * allocations are placed last-fit from the high end of the heap. */
void *heaprig_gc_alloc(size_t bytes, bool long_lived);
/* Returns a block obtained from heaprig_gc_alloc. NULL is ignored. */
void heaprig_gc_free(void *ptr);

/* The head of the embedded list: a word owned by the rig (target/vm/vm.c), scanned by the GC as
 * a root, NULL at every reset. It holds the address of the first embedded block, which is also
 * the start of that block's GC allocation; each embedded block's first word links the next. The
 * tag is the runtime's, so its code uses the word directly (through its VM-state accessor). */
struct _supervisor_allocation_node;
extern struct _supervisor_allocation_node *heaprig_embedded_root;

/* "Allocations have moved": the backend calls it once, at the end of supervisor_move_memory(),
 * after every block has reached its new place. The rig runs every registered move callback in
 * registration order (target/clients/move_callbacks.h); they call allocation_from_ptr(old),
 * which the backend must answer by the pointers as they were before the move (R12). */
void heaprig_allocations_moved(void);

/* Caller errors and broken internal expectations of a backend: the rig reports the file and line
 * as an `assert` fault and ends the run. The runtime's assert() maps here. */
void heaprig_assert_failed(const char *file, int line, const char *expression);

/* ==== What the rig does with a backend ======================================================= */

/* Boot, once, before any backend call: remembers the backend's initial data image. False if the
 * image is larger than HEAPRIG_BACKEND_DATA_MAX (the board then refuses to start). */
bool heaprig_backend_snapshot(void);
/* Before every scenario: the backend's data back to the boot image, its zero-initialised data
 * back to zero. The backend's code is not called. */
void heaprig_backend_reset(void);

/* ==== Optional extras ========================================================================
 * A backend may also provide these (the default one does). The rig defines weak fallbacks
 * (target/rig/backend.c) so that a backend without them links and runs: the checker then finds
 * nothing and says so (invariant NULL, detail "not available"), the walker is the rig's own,
 * reading the SPEC §1 block layout from the handles it knows (target/rig/layout_walk.h), and
 * no misuse is ever reported. */

/* Bytes of the header in front of every block's data: a link and a length word, 8 on the 32-bit
 * targets (SPEC §1). The native 64-bit fuzzing build pads it to 16 (the link is a pointer). */
#define SUPERVISOR_HEADER_BYTES ((uint32_t)(2u * sizeof(void *)))

/* --- Walker --- */
typedef enum {
    REGION_LOW_BLOCK,
    REGION_LOW_HOLE,
    REGION_FREE_MIDDLE,
    REGION_HIGH_HOLE,
    REGION_HIGH_BLOCK,
    REGION_EMBEDDED_BLOCK,
} heap_region_kind_t;

typedef struct {
    heap_region_kind_t kind;
    const void *start;                  /* header address (middle: its first byte) */
    uint32_t length;                    /* data bytes (middle: all its bytes) */
    bool movable;
    supervisor_allocation *allocation;  /* the handle owning the block, NULL for holes/middle */
} heap_region_t;

typedef void (*heap_walker_t)(const heap_region_t *region, void *context);
/* Visits the low side bottom-up, the free middle, the high side bottom-up, then the embedded
 * list in list order. Never changes the heap. */
void heap_walk(heap_walker_t visit, void *context);

/* --- Checker --- */
typedef struct {
    const char *invariant;  /* NULL when the heap is sound, else the name of the first broken one */
    const void *where;      /* the block at fault (a handle's: the block it points at) */
    const char *detail;     /* one sentence for humans */
} heap_check_result_t;

/* Checks every invariant the backend documents, stops at the first broken one. Read-only. */
heap_check_result_t heap_check(void);

/* --- Caller errors --- */
/* Debug builds: the message of the last caller error the backend refused, then cleared. NULL if
 * none (always NULL in release builds). */
const char *supervisor_heap_take_misuse(void);

#endif
