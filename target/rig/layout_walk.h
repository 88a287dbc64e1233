/*
 * The rig's own walker over a backend's heap, for a backend that has none (target/BACKENDS.md,
 * "Maps of a foreign backend"). It reads the block layout SPEC §1 gives every implementation
 * and finds the heap from what the rig already knows, so maps, `side` and `middle` work for
 * code that never heard of heap_walk().
 */
#ifndef HEAPRIG_LAYOUT_WALK_H
#define HEAPRIG_LAYOUT_WALK_H

#include "heaprig_backend.h"

/* Visits the regions as heap_walk() does (low side bottom-up, the free middle, high side
 * bottom-up, then the embedded list in list order). Reads only; a chain that leaves the arena
 * or does not add up ends the walk of that side there. */
void heaprig_layout_walk(heap_walker_t visit, void *context);

#endif
