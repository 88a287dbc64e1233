/*
 * Backend-neutral observation of the supervisor heap: what the rig sees of any backend of this
 * family without looking at its internals, the maps built from it, and the defect detectors.
 *
 * What the rig knows (and nothing else):
 *   - every handle it was given (the clients', the VM stack's, the GC heap's): its `ptr` and
 *     get_allocation_length(), and what it asked for (side, movable);
 *   - the family's block format (SPEC §1): a header of a link word and a length word in front of
 *     the data, the length's two low bits HOLE and MOVABLE; read only where no handle explains
 *     a region (the holes between live blocks, and carved space nobody owns);
 *   - the arena bounds, the GC heap block while a VM runs, and the embedded-list root (a word the
 *     rig owns, SPEC §2);
 *   - memory the rig itself keeps: the free middle holds zero (the arena's initial pattern, put
 *     back over space that returns to the middle), and guard words just outside the arena.
 *
 * The layout derived from that (observe.c explains how): live blocks with their sides (low,
 * high, embedded), the free middle between the low side's end and the high side's start, and
 * holes as the carved, unowned space that tiles the gaps between a side's live blocks.
 */
#ifndef HEAPRIG_OBSERVE_H
#define HEAPRIG_OBSERVE_H

#include <stdbool.h>
#include <stdint.h>

#include "interp/interp.h"
#include "interp/map.h"

/* Bytes of the family's header: a link word (a pointer) and a length word, 8 on 32-bit targets. */
#define OBSERVE_HEADER_BYTES ((uint32_t)(2u * sizeof(void *)))

/* Owners the rig can hand a block to: every client, the VM stack, the GC heap. */
#define OBSERVE_OWNERS (HEAPRIG_MAX_CLIENTS + 2u)

typedef enum {
    OBSERVED_LOW,
    OBSERVED_HIGH,
    OBSERVED_EMBEDDED,
    OBSERVED_STRANDED, /* was embedded, its VM is gone and it was never moved (SPEC D2) */
} observed_side_t;

/* One live block: a handle the rig holds whose `ptr` is not NULL. */
typedef struct {
    owner_t owner;
    const supervisor_allocation *handle;
    uintptr_t start; /* header address: ptr - OBSERVE_HEADER_BYTES */
    uint32_t length; /* get_allocation_length() */
    observed_side_t side;
    bool movable;    /* asked for as movable, and move support compiled in (R14) */
} observed_block_t;

/* The heap as seen right now. `blocks` are sorted by `start`. */
typedef struct {
    observed_block_t blocks[OBSERVE_OWNERS];
    uint32_t count;
    uintptr_t low_end;    /* end of the highest low block (the arena bottom if none) */
    uintptr_t high_start; /* start of the lowest high block (the arena top if none) */
} observed_layout_t;

/* After a `reset` (the arena is zero): forgets everything, places the guard words. */
void observe_reset(void);
/* Before an event runs: notes what an `alloc`/`alloc_remaining` asks for. */
void observe_before_event(const event_t *event);
/* After an event: the layout is derived again; with `checking`, every detector runs (a finding
 * prints the map as observed, then its result line, and ends the run with exit 3); then space
 * that returned to the free middle gets the arena's initial pattern back. */
void observe_after_event(const event_t *event, bool checking);

/* The layout now (derived on every call; blocks new since the last event get their side). */
const observed_layout_t *observe_layout(void);
/* The live block of `handle`; false if the handle holds none. */
bool observe_block_of(const supervisor_allocation *handle, observed_block_t *block);
/* Is there a hole (a header with the HOLE flag, length > 0) at `at` that ends by `limit`? */
bool observe_hole_at(uintptr_t at, uintptr_t limit, uint32_t *length);
/* End of a block, header included. */
uintptr_t observe_block_end(const observed_block_t *block);

#endif
