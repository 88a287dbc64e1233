/*
 * Maps, owners and moves, seen through heap_walk() (one way to see the heap, STYLE.md C5).
 *
 * The walker visits the low side, the free middle and the high side in address order, then the
 * embedded list in list order. A map lists regions in address order with each embedded block
 * right after the block that holds it (the GC heap), so after each region the embedded blocks
 * inside it are emitted, lowest first, by selection over further walks: no region array to
 * overflow, whatever the number of holes.
 */
#include "interp/map.h"

#include "clients/clients.h"
#include "interp/report.h"
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
    return arena_offset(data) - SUPERVISOR_HEADER_BYTES;
}

bool map_block_inside_arena(const void *data, uint32_t length) {
    const char *header = (const char *)data - SUPERVISOR_HEADER_BYTES;
    return length <= UINT32_MAX - SUPERVISOR_HEADER_BYTES &&
           arena_holds(header, SUPERVISOR_HEADER_BYTES + length);
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

typedef struct {
    const supervisor_allocation *handle;
    heap_region_t region;
    bool found;
} locate_t;

static void locate_visit(const heap_region_t *region, void *context) {
    locate_t *search = context;
    if (!search->found && region->allocation != NULL && region->allocation == search->handle) {
        search->region = *region;
        search->found = true;
    }
}

bool map_locate(const supervisor_allocation *handle, heap_region_t *region) {
    locate_t search = {.handle = handle, .found = false};
    if (handle != NULL) {
        heap_walk(locate_visit, &search);
    }
    *region = search.region;
    return search.found;
}

/* ---- The map result ----------------------------------------------------------------------- */

static uintptr_t region_start(const heap_region_t *region) {
    return (uintptr_t)region->start;
}

/* Bytes the region covers: header and data, or the whole middle. */
static uintptr_t region_end(const heap_region_t *region) {
    uintptr_t header = region->kind == REGION_FREE_MIDDLE ? 0 : SUPERVISOR_HEADER_BYTES;
    return region_start(region) + header + region->length;
}

static bool is_embedded(const heap_region_t *region) {
    return region->kind == REGION_EMBEDDED_BLOCK;
}

static void report_region(const heap_region_t *region) {
    report_open_object(NULL);
    switch (region->kind) {
    case REGION_FREE_MIDDLE:
        report_string("kind", "free");
        break;
    case REGION_LOW_HOLE:
    case REGION_HIGH_HOLE:
        report_string("kind", "hole");
        report_string("side", map_side_name(region->kind));
        break;
    case REGION_LOW_BLOCK:
    case REGION_HIGH_BLOCK:
    case REGION_EMBEDDED_BLOCK:
        report_string("kind", "block");
        report_string("side", map_side_name(region->kind));
        break;
    }
    report_u32("at", arena_offset(region->start));
    report_u32("len", region->length);
    if (region->kind != REGION_FREE_MIDDLE && region->kind != REGION_LOW_HOLE &&
        region->kind != REGION_HIGH_HOLE) {
        map_report_owner("owner", map_owner_of(region->allocation));
        report_bool("movable", region->movable);
    }
    report_close_object();
}

/* Selection of the lowest embedded block in [from, to) above `after` (exclusive). */
typedef struct {
    uintptr_t from, to;
    uintptr_t after;
    bool any_after; /* false: no lower bound yet */
    heap_region_t best;
    bool found;
} embedded_search_t;

static void embedded_search_visit(const heap_region_t *region, void *context) {
    embedded_search_t *search = context;
    uintptr_t start = region_start(region);
    if (!is_embedded(region) || start < search->from || start >= search->to ||
        (search->any_after && start <= search->after) ||
        (search->found && start >= region_start(&search->best))) {
        return;
    }
    search->best = *region;
    search->found = true;
}

/* Emits the embedded blocks starting inside [from, to), lowest first. */
static void report_embedded_within(uintptr_t from, uintptr_t to) {
    embedded_search_t search = {.from = from, .to = to, .any_after = false};
    for (;;) {
        search.found = false;
        heap_walk(embedded_search_visit, &search);
        if (!search.found) {
            return;
        }
        report_region(&search.best);
        search.after = region_start(&search.best);
        search.any_after = true;
    }
}

typedef struct {
    /* The span the walk covered: embedded blocks outside it (a broken backend's) go at the ends. */
    uintptr_t lowest_start;
    uintptr_t highest_end;
    bool any;
    uint32_t middle_bytes;
} map_walk_t;

static void map_visit(const heap_region_t *region, void *context) {
    map_walk_t *walk = context;
    if (is_embedded(region)) {
        return;
    }
    report_region(region);
    /* Normally only the GC heap block holds embedded blocks, but regions tile the arena, so
     * asking every region places each embedded block exactly once, wherever a backend put it. */
    report_embedded_within(region_start(region), region_end(region));
    if (region->kind == REGION_FREE_MIDDLE) {
        walk->middle_bytes = region->length;
    }
    if (!walk->any || region_start(region) < walk->lowest_start) {
        walk->lowest_start = region_start(region);
    }
    if (!walk->any || region_end(region) > walk->highest_end) {
        walk->highest_end = region_end(region);
    }
    walk->any = true;
}

static void report_heap_bounds(const char *key) {
    const supervisor_allocation *heap = vm_heap_allocation();
    if (heap == NULL || heap->ptr == NULL) {
        report_null(key);
        return;
    }
    report_open_object(key);
    report_u32("at", map_block_offset(heap->ptr));
    report_u32("len", (uint32_t)get_allocation_length((supervisor_allocation *)heap));
    report_close_object();
}

void map_report(uint32_t event) {
    map_walk_t walk = {.any = false};
    report_begin("map");
    report_u32("ev", event);
    report_open_array("regions");
    heap_walk(map_visit, &walk);
    if (walk.any) {
        /* A broken backend's embedded blocks outside every block: listed, never hidden. */
        report_embedded_within(0, walk.lowest_start);
        report_embedded_within(walk.highest_end, UINTPTR_MAX);
    }
    report_close_array();
    report_u32("middle", walk.middle_bytes);
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
        .was_embedded = located && is_embedded(&region),
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
