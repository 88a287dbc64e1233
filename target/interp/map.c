/*
 * Maps, owners and moves, seen through heap_walk() (one way to see the heap, STYLE.md C5).
 *
 * The walker visits the low side, the free middle and the high side in address order, then the
 * embedded list in list order. A map lists regions in address order with each embedded block
 * right after the block that holds it (the GC heap): a first walk collects and sorts the embedded
 * blocks (a few, one per handle at most), a second streams every other region straight into the
 * result line, so a map of thousands of holes needs no region array.
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
    /* Moves: every owner's block before supervisor_move_memory(). */
    block_snapshot_t blocks[SNAPSHOT_CAPACITY];
    uint32_t count;
    /* Maps: the embedded blocks, sorted by address, and which are already listed. */
    heap_region_t embedded[SUPERVISOR_SLOTS];
    bool embedded_listed[SUPERVISOR_SLOTS];
    uint32_t embedded_count;
    bool embedded_overflow;
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

/* Pass 1 of a map: the embedded blocks, sorted by address. A sound heap has at most one per
 * handle slot; a broken one may have more, which are listed at the end in list order. */
static void embedded_collect_visit(const heap_region_t *region, void *context) {
    (void)context;
    if (!is_embedded(region)) {
        return;
    }
    if (map.embedded_count < SUPERVISOR_SLOTS) {
        map.embedded[map.embedded_count] = *region;
        map.embedded_listed[map.embedded_count] = false;
        map.embedded_count++;
    } else {
        map.embedded_overflow = true;
    }
}

static void collect_embedded_blocks(void) {
    map.embedded_count = 0;
    map.embedded_overflow = false;
    heap_walk(embedded_collect_visit, NULL);
    for (uint32_t i = 1; i < map.embedded_count; i++) { /* insertion sort: a handful */
        heap_region_t region = map.embedded[i];
        uint32_t j = i;
        while (j > 0 && region_start(&map.embedded[j - 1]) > region_start(&region)) {
            map.embedded[j] = map.embedded[j - 1];
            j--;
        }
        map.embedded[j] = region;
    }
}

/* Emits the collected embedded blocks starting inside [from, to) not listed yet, lowest first. */
static void report_embedded_within(uintptr_t from, uintptr_t to) {
    for (uint32_t i = 0; i < map.embedded_count; i++) {
        uintptr_t start = region_start(&map.embedded[i]);
        if (!map.embedded_listed[i] && start >= from && start < to) {
            report_region(&map.embedded[i]);
            map.embedded_listed[i] = true;
        }
    }
}

/* Pass 2: every other region in address order, each followed by the embedded blocks inside it.
 * Normally only the GC heap block holds any, but regions tile the arena, so asking every region
 * places each embedded block exactly once, wherever a backend put it. */
static void map_visit(const heap_region_t *region, void *context) {
    uint32_t *middle_bytes = context;
    if (is_embedded(region)) {
        return;
    }
    report_region(region);
    report_embedded_within(region_start(region), region_end(region));
    if (region->kind == REGION_FREE_MIDDLE) {
        *middle_bytes = region->length;
    }
}

/* Pass 3, for a broken heap only: embedded blocks beyond the collected ones, in list order. */
static void embedded_overflow_visit(const heap_region_t *region, void *context) {
    uint32_t *ordinal = context;
    if (is_embedded(region) && (*ordinal)++ >= SUPERVISOR_SLOTS) {
        report_region(region);
    }
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
    uint32_t middle_bytes = 0;
    collect_embedded_blocks();
    report_begin("map");
    report_u32("ev", event);
    report_open_array("regions");
    heap_walk(map_visit, &middle_bytes);
    /* Embedded blocks outside the arena (a broken backend's): listed, never hidden. */
    report_embedded_within(0, UINTPTR_MAX);
    if (map.embedded_overflow) {
        uint32_t ordinal = 0;
        heap_walk(embedded_overflow_visit, &ordinal);
    }
    report_close_array();
    report_u32("middle", middle_bytes);
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
