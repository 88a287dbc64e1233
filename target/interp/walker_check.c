/*
 * The backend's walker against the observation (walker_check.h).
 *
 * A walker is what a developer trusts when a map dump or a debugger shows the heap, so one that
 * misreports it is a bug of its own, even while the heap itself is sound. The rig's maps come
 * from the backend-neutral observation (observe.h); this check holds the backend's own account
 * to it. heap_walk() promises the regions in this order (heaprig_backend.h):
 *
 *   low side, bottom-up        blocks and holes tiling [bottom, low_end) with no gap;
 *   the free middle            exactly [low_end, high_start);
 *   high side, bottom-up       blocks and holes tiling [high_start, top) with no gap;
 *   embedded blocks            in list order.
 *
 * Every block region (not hole, not middle) must be a live block the rig sees: same header
 * address, the length get_allocation_length() gives, the handle that owns it, its side; and
 * every observed block must be visited once. The MOVABLE flag is not compared: whether a block
 * may move is the backend's own decision, and the rig judges its consequences where they show
 * (moves, callbacks, `stranded`); a movable block in a build without move support (SPEC D2) would
 * otherwise be reported here, as a flag, before `stranded` says what goes wrong.
 */
#include "interp/walker_check.h"

#include <stdbool.h>

#include "heaprig_backend.h"
#include "interp/interp.h"
#include "interp/observe.h"
#include "rig/builds.h"
#include "supervisor/port.h"

/* Which part of the walk the regions so far belong to (the order heap_walk() promises). */
typedef enum {
    WALK_LOW_SIDE,
    WALK_HIGH_SIDE, /* after the free middle */
    WALK_EMBEDDED,
} walk_part_t;

typedef struct {
    const observed_layout_t *layout;
    walk_part_t part;
    uintptr_t cursor;                 /* where the side's next region must start */
    bool visited[OBSERVE_OWNERS];     /* observed blocks (by layout index) the walk showed */
    /* The first disagreement: where (an address in the arena, or NULL) and what. */
    const void *where;
    const char *detail;
} walk_agreement_t;

static void disagree(walk_agreement_t *walk, const void *where, const char *detail) {
    if (walk->detail == NULL) {
        walk->where = where;
        walk->detail = detail;
    }
}

static observed_side_t side_of_kind(heap_region_kind_t kind) {
    switch (kind) {
    case REGION_HIGH_BLOCK:
        return OBSERVED_HIGH;
    case REGION_EMBEDDED_BLOCK:
        return OBSERVED_EMBEDDED;
    default:
        return OBSERVED_LOW;
    }
}

/* A block region against the observed block at the same header address. */
static void compare_block(walk_agreement_t *walk, const heap_region_t *region) {
    const observed_layout_t *layout = walk->layout;
    for (uint32_t i = 0; i < layout->count; i++) {
        const observed_block_t *block = &layout->blocks[i];
        if (block->start != (uintptr_t)region->start) {
            continue;
        }
        if (walk->visited[i]) {
            disagree(walk, region->start, "the walker shows this block twice");
        } else if (region->length != block->length) {
            disagree(walk, region->start,
                     "the walker's length for this block is not get_allocation_length()'s");
        } else if (region->allocation != block->handle) {
            disagree(walk, region->start, "the walker names another handle as this block's owner");
        } else if (side_of_kind(region->kind) != block->side) {
            disagree(walk, region->start, "the walker puts this block on another side");
        }
        walk->visited[i] = true;
        return;
    }
    disagree(walk, region->start, "the walker shows a block that no live handle owns");
}

/* A region of a side: it must start where the previous one ended. */
static void follow_side(walk_agreement_t *walk, const heap_region_t *region, walk_part_t part) {
    if (walk->part != part) {
        disagree(walk, region->start, "the walker visits a side out of order");
        return;
    }
    if ((uintptr_t)region->start != walk->cursor) {
        disagree(walk, region->start,
                 "the walker's regions of a side do not follow one another without a gap");
        return;
    }
    walk->cursor = observe_block_end(&(observed_block_t){.start = (uintptr_t)region->start,
                                                         .length = region->length});
}

static void visit_region(const heap_region_t *region, void *context) {
    walk_agreement_t *walk = context;
    const observed_layout_t *layout = walk->layout;
    switch (region->kind) {
    case REGION_LOW_BLOCK:
    case REGION_LOW_HOLE:
        follow_side(walk, region, WALK_LOW_SIDE);
        break;
    case REGION_FREE_MIDDLE:
        if (walk->part != WALK_LOW_SIDE || (uintptr_t)region->start != walk->cursor ||
            walk->cursor != layout->low_end ||
            region->length != (uint32_t)(layout->high_start - layout->low_end)) {
            disagree(walk, region->start,
                     "the walker's free middle is not [end of the low side, high side)");
        }
        walk->part = WALK_HIGH_SIDE;
        walk->cursor = layout->high_start;
        break;
    case REGION_HIGH_BLOCK:
    case REGION_HIGH_HOLE:
        follow_side(walk, region, WALK_HIGH_SIDE);
        break;
    case REGION_EMBEDDED_BLOCK:
        if (walk->part == WALK_HIGH_SIDE && walk->cursor != (uintptr_t)port_heap_get_top()) {
            disagree(walk, region->start, "the walker's high side does not reach the arena top");
        }
        walk->part = WALK_EMBEDDED;
        break;
    }
    if (region->kind == REGION_LOW_BLOCK || region->kind == REGION_HIGH_BLOCK ||
        region->kind == REGION_EMBEDDED_BLOCK) {
        compare_block(walk, region);
    }
}

void walker_check(uint32_t event) {
    if (!heaprig_active_build_has_walker()) {
        return; /* the rig's own walk (heaprig_fallback_walk) has nothing to be held to */
    }
    walk_agreement_t walk = {.layout = observe_layout(), .part = WALK_LOW_SIDE,
                             .cursor = (uintptr_t)port_heap_get_bottom()};
    heap_walk(visit_region, &walk);
    if (walk.part == WALK_LOW_SIDE) {
        disagree(&walk, (const void *)walk.layout->low_end, "the walker shows no free middle");
    } else if (walk.part == WALK_HIGH_SIDE && walk.cursor != (uintptr_t)port_heap_get_top()) {
        disagree(&walk, (const void *)walk.cursor,
                 "the walker's high side does not reach the arena top");
    }
    for (uint32_t i = 0; i < walk.layout->count; i++) {
        if (!walk.visited[i]) {
            disagree(&walk, (const void *)walk.layout->blocks[i].start,
                     "a live block the walker does not show");
        }
    }
    if (walk.detail != NULL) {
        interp_report_violation(event, "walker_agrees", walk.where, walk.detail);
    }
}
