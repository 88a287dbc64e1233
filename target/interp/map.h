/*
 * What the results say about the heap, all built on the backend-neutral observation
 * (interp/observe.h), never on allocator internals: owner names, the `map` result, where a block
 * lies (for `alloc` results), and the `move` results of a VM exit.
 */
#ifndef HEAPRIG_MAP_H
#define HEAPRIG_MAP_H

#include <stdbool.h>
#include <stdint.h>

#include "heaprig_backend.h"

/* Who holds a handle: a client, or the VM model's own stack and heap blocks. */
typedef enum {
    OWNER_NONE,
    OWNER_CLIENT,
    OWNER_STACK,
    OWNER_HEAP,
} owner_kind_t;

typedef struct {
    owner_kind_t kind;
    uint32_t client; /* OWNER_CLIENT */
} owner_t;

owner_t map_owner_of(const supervisor_allocation *handle);
/* `"key": <client id> | "stack" | "heap" | null` */
void map_report_owner(const char *key, owner_t owner);

/* Offset from the arena bottom of the block header in front of `data`. */
uint32_t map_block_offset(const void *data);
/* The handle's block as observed (kind: low/high/embedded block); false if it holds none. */
bool map_locate(const supervisor_allocation *handle, heap_region_t *region);
/* "low", "high" or "embedded" for a block region. */
const char *map_side_name(heap_region_kind_t kind);

/* One `map` result line for event `event`. */
void map_report(uint32_t event);

/* Moves at VM exit: take a snapshot of every owner's block before vm_exit(), then report each
 * block whose address changed, ordered by its old offset. */
void map_snapshot_blocks(void);
void map_report_moves(uint32_t event);

#endif
