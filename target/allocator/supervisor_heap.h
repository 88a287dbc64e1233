/*
 * The rig's view of the supervisor heap, beyond the runtime-compatible API in
 * supervisor/memory.h: initialisation, move callbacks, the walker every map is built on, the
 * invariant checker, and the caller-error report of debug builds.
 */
#ifndef SUPERVISOR_HEAP_H
#define SUPERVISOR_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "heaprig_config.h"
#include "supervisor/memory.h"

/* Bytes of the header in front of every block's data: a link and a length word, 8 on the 32-bit
 * targets. The native 64-bit fuzzing build pads it to 16 (the link is a pointer). */
#define SUPERVISOR_HEADER_BYTES ((uint32_t)(2u * sizeof(void *)))

/* Forgets every allocation and callback and takes the arena from port_heap_get_bottom/top. */
void supervisor_heap_init(void);

/* Move callbacks (SPEC §1.5 step 5): each runs once per supervisor_move_memory(), after every
 * block has reached its new place, with allocation_from_ptr() answering for old pointers. */
typedef void (*supervisor_move_callback_t)(void *context);
/* Returns false if the table (one entry per slot) is full. */
bool supervisor_register_move_callback(supervisor_move_callback_t callback, void *context);
void supervisor_unregister_move_callback(supervisor_move_callback_t callback, void *context);

/* The GC root of the embedded list: a word holding the address of the first embedded block (its
 * header, i.e. the start of its GC block). Each embedded block's first word links to the next. */
void **supervisor_embedded_root(void);

/* --- Walker ---------------------------------------------------------------------------------- */
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

/* --- Checker --------------------------------------------------------------------------------- */
typedef struct {
    const char *invariant;  /* NULL when the heap is sound, else the name of the first broken one */
    const void *where;      /* the block (or handle) at fault */
    const char *detail;     /* one sentence for humans */
} heap_check_result_t;

/* Checks every invariant listed at the top of supervisor_heap.c, stops at the first broken one.
 * Read-only. */
heap_check_result_t heap_check(void);

/* --- Caller errors --------------------------------------------------------------------------- */
/* Debug builds: the message of the last caller error the allocator refused, then cleared.
 * NULL if none (always NULL in release builds). */
const char *supervisor_heap_take_misuse(void);

/* --- Overridable assertion (TLSF style) ------------------------------------------------------ */
#ifndef supervisor_heap_assert
void heaprig_assert_failed(const char *file, int line, const char *expression);
#define supervisor_heap_assert(expr) \
    ((expr) ? (void)0 : heaprig_assert_failed(__FILE__, __LINE__, #expr))
#endif

#endif
