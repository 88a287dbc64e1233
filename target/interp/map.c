/*
 * Maps, owners and moves, built on the backend-neutral observation (interp/observe.h): the
 * handles the rig holds, their lengths, and the holes between them. No allocator internals, so a
 * foreign backend's map is drawn the same way. Regions stream straight into the result line, so
 * a map of thousands of holes needs no region array.
 */
#include "interp/map.h"

#include "clients/clients.h"
#include "interp/observe.h"
#include "interp/report.h"
#include "supervisor/port.h"
#include "vm/arena.h"
#include "vm/vm.h"

/* Owners that can hold a block: every client, the stack (the heap is freed before a move). */
#define SNAPSHOT_CAPACITY (HEAPRIG_MAX_CLIENTS + 1u)

typedef struct {
    owner_t owner;
    const supervisor_allocation *handle;
    const uint32_t *before; /* data pointer before the move */
    bool was_embedded;
} block_snapshot_t;

typedef struct {
    /* Moves: every owner's block before supervisor_move_memory(). */
    block_snapshot_t blocks[SNAPSHOT_CAPACITY];
    uint32_t count;
} map_state_t;

static map_state_t map;

/* ---- Owners ------------------------------------------------------------------------------- */

owner_t map_owner_of(const supervisor_allocation *handle) {
    uint32_t client;
    if (handle == NULL) {
        return (owner_t){OWNER_NONE, 0};
    }
    if (handle == vm_stack_allocation()) {
        return (owner_t){OWNER_STACK, 0};
    }
    if (handle == vm_heap_allocation()) {
        return (owner_t){OWNER_HEAP, 0};
    }
    if (client_owning(handle, &client)) {
        return (owner_t){OWNER_CLIENT, client};
    }
    return (owner_t){OWNER_NONE, 0};
}

void map_report_owner(const char *key, owner_t owner) {
    switch (owner.kind) {
    case OWNER_CLIENT:
        report_u32(key, owner.client);
        break;
    case OWNER_STACK:
        report_string(key, "stack");
        break;
    case OWNER_HEAP:
        report_string(key, "heap");
        break;
    case OWNER_NONE:
        report_null(key);
        break;
    }
}

uint32_t map_block_offset(const void *data) {
    return arena_offset(data) - OBSERVE_HEADER_BYTES;
}

const char *map_side_name(heap_region_kind_t kind) {
    switch (kind) {
    case REGION_LOW_BLOCK:
    case REGION_LOW_HOLE:
        return "low";
    case REGION_HIGH_BLOCK:
    case REGION_HIGH_HOLE:
        return "high";
    case REGION_EMBEDDED_BLOCK:
        return "embedded";
    case REGION_FREE_MIDDLE:
        break;
    }
    return "middle";
}

/* ---- Locating a block --------------------------------------------------------------------- */

static heap_region_kind_t region_kind_of(observed_side_t side) {
    switch (side) {
    case OBSERVED_LOW:
        return REGION_LOW_BLOCK;
    case OBSERVED_HIGH:
        return REGION_HIGH_BLOCK;
    case OBSERVED_EMBEDDED:
    case OBSERVED_STRANDED:
        break;
    }
    return REGION_EMBEDDED_BLOCK;
}

bool map_locate(const supervisor_allocation *handle, heap_region_t *region) {
    observed_block_t block;
    if (!observe_block_of(handle, &block)) {
        return false;
    }
    *region = (heap_region_t){
        .kind = region_kind_of(block.side),
        .start = (const void *)block.start,
        .length = block.length,
        .movable = block.movable,
        .allocation = (supervisor_allocation *)block.handle,
    };
    return true;
}

/* ---- The map result ----------------------------------------------------------------------- */
/*
 * Regions in address order: the low side (blocks, and holes tiling the gaps between them), the
 * free middle, the high side; the embedded blocks right after the GC heap block that holds them.
 * Space between a side's blocks that holds no hole (a broken backend's, with checking off) is an
 * `unknown` region: listed, never hidden. So is a block no side holds (a stranded one).
 */

typedef struct {
    const observed_layout_t *layout;
    bool listed[OBSERVE_OWNERS];
} map_walk_t;

static void report_block(const observed_block_t *block) {
    report_open_object(NULL);
    report_string("kind", "block");
    report_string("side", block->side == OBSERVED_LOW    ? "low"
                          : block->side == OBSERVED_HIGH ? "high"
                                                         : "embedded");
    report_u32("at", arena_offset((const void *)block->start));
    report_u32("len", block->length);
    map_report_owner("owner", block->owner);
    report_bool("movable", block->movable);
    report_close_object();
}

static void report_span(const char *kind, const char *side, uintptr_t at, uint32_t length) {
    report_open_object(NULL);
    report_string("kind", kind);
    if (side != NULL) {
        report_string("side", side);
    }
    report_u32("at", arena_offset((const void *)at));
    report_u32("len", length);
    report_close_object();
}

/* Holes from `from` up to `to`, then whatever is left as one unknown region. */
static void report_gap(const char *side, uintptr_t from, uintptr_t to) {
    uint32_t length;
    while (from < to && observe_hole_at(from, to, &length)) {
        report_span("hole", side, from, length);
        from += OBSERVE_HEADER_BYTES + length;
    }
    if (from < to) {
        report_span("unknown", NULL, from, (uint32_t)(to - from));
    }
}

static void report_side_block(map_walk_t *walk, uint32_t index) {
    const observed_block_t *block = &walk->layout->blocks[index];
    report_block(block);
    walk->listed[index] = true;
    if (block->owner.kind != OWNER_HEAP) {
        return;
    }
    for (uint32_t i = 0; i < walk->layout->count; i++) {
        if (walk->layout->blocks[i].side == OBSERVED_EMBEDDED && !walk->listed[i]) {
            report_block(&walk->layout->blocks[i]);
            walk->listed[i] = true;
        }
    }
}

/* One side's blocks in address order from `from`, the gaps between them, up to `to`. */
static void report_side(map_walk_t *walk, observed_side_t side, const char *name, uintptr_t from,
                        uintptr_t to) {
    uintptr_t cursor = from;
    for (uint32_t i = 0; i < walk->layout->count; i++) {
        const observed_block_t *block = &walk->layout->blocks[i];
        if (block->side != side) {
            continue;
        }
        report_gap(name, cursor, block->start);
        report_side_block(walk, i);
        if (observe_block_end(block) > cursor) {
            cursor = observe_block_end(block);
        }
    }
    report_gap(name, cursor, to);
}

static void report_heap_bounds(const char *key) {
    supervisor_allocation *heap = vm_heap_allocation();
    if (heap == NULL || heap->ptr == NULL) {
        report_null(key);
        return;
    }
    report_open_object(key);
    report_u32("at", map_block_offset(heap->ptr));
    report_u32("len", (uint32_t)get_allocation_length(heap));
    report_close_object();
}

void map_report(uint32_t event) {
    map_walk_t walk = {.layout = observe_layout()};
    uintptr_t low_end = walk.layout->low_end;
    uintptr_t high_start = walk.layout->high_start;
    uint32_t middle = low_end <= high_start ? (uint32_t)(high_start - low_end) : 0;
    report_begin("map");
    report_u32("ev", event);
    report_open_array("regions");
    report_side(&walk, OBSERVED_LOW, "low", (uintptr_t)port_heap_get_bottom(), low_end);
    report_span("free", NULL, low_end, middle);
    report_side(&walk, OBSERVED_HIGH, "high", high_start > low_end ? high_start : low_end,
                (uintptr_t)port_heap_get_top());
    for (uint32_t i = 0; i < walk.layout->count; i++) {
        if (!walk.listed[i]) {
            report_block(&walk.layout->blocks[i]);
        }
    }
    report_close_array();
    report_u32("middle", middle);
    report_heap_bounds("heap");
    report_end();
}

/* ---- Moves -------------------------------------------------------------------------------- */

static void snapshot_add(owner_t owner, const supervisor_allocation *handle) {
    if (handle == NULL || handle->ptr == NULL || map.count == SNAPSHOT_CAPACITY) {
        return;
    }
    heap_region_t region;
    bool located = map_locate(handle, &region);
    map.blocks[map.count++] = (block_snapshot_t){
        .owner = owner,
        .handle = handle,
        .before = handle->ptr,
        .was_embedded = located && region.kind == REGION_EMBEDDED_BLOCK,
    };
}

void map_snapshot_blocks(void) {
    map.count = 0;
    snapshot_add((owner_t){OWNER_STACK, 0}, vm_stack_allocation());
    for (uint32_t client = 0; client < HEAPRIG_MAX_CLIENTS; client++) {
        snapshot_add((owner_t){OWNER_CLIENT, client}, client_issued_handle(client));
    }
}

/* Insertion sort by old address: a few dozen entries. */
static void sort_snapshot_by_address(void) {
    for (uint32_t i = 1; i < map.count; i++) {
        block_snapshot_t entry = map.blocks[i];
        uint32_t j = i;
        while (j > 0 && (uintptr_t)map.blocks[j - 1].before > (uintptr_t)entry.before) {
            map.blocks[j] = map.blocks[j - 1];
            j--;
        }
        map.blocks[j] = entry;
    }
}

void map_report_moves(uint32_t event) {
    sort_snapshot_by_address();
    for (uint32_t i = 0; i < map.count; i++) {
        const block_snapshot_t *entry = &map.blocks[i];
        const uint32_t *after = entry->handle->ptr;
        if (after == entry->before) {
            continue;
        }
        report_begin("move");
        report_u32("ev", event);
        map_report_owner("owner", entry->owner);
        report_u32("from", map_block_offset(entry->before));
        if (after != NULL) {
            report_u32("to", map_block_offset(after));
        } else {
            report_null("to");
        }
        report_string("how", entry->was_embedded ? "promote" : "compact");
        report_end();
    }
    map.count = 0;
}
