/*
 * The *baseline* backend (issue 6), measured against ours by `make bench`; not a product.
 *
 * Our allocator (target/allocator/supervisor_heap.c, included below) with only the move's two
 * algorithms replaced by the original scheme's naive ones:
 *   - compaction: full passes over the low side, bottom-up, each swapping every movable block
 *     with the hole right below it, until a pass changes nothing (O(n^2) block moves);
 *   - promotion: again and again, search the whole embedded list for its lowest block and place
 *     it (O(e^2) list walks; the list is in address order, as ours keeps it, but the search
 *     does not rely on that, as the original's did not).
 * Everything else is our code, compiled from the same file, so allocation, freeing, lookup, the
 * walker and the checker cannot drift from ours, and the results (maps, moves, callbacks) are
 * the same: harness/tests/test_bench.py runs every scenario and the differential smoke on it.
 *
 * Our file declares move_blocks() (steps 2 to 4 of SPEC §1.5) and leaves it to this one when
 * SUPERVISOR_HEAP_BASELINE_MOVE is defined; supervisor_move_memory() around it (step 1, the
 * slot copy for R12; step 5, the callbacks) is ours.
 */
#define SUPERVISOR_HEAP_BASELINE_MOVE 1
#include "../../allocator/supervisor_heap.c"

#if SUPERVISOR_MOVE_SUPPORT

/* The handle of a live low or embedded block, found by a scan of the slots. */
static supervisor_allocation *handle_of(block_t *block) {
    supervisor_allocation *handle = slot_holding(heap.slots, block_data(block));
    /* Every block is carved only once a slot is secured (R5), so a live block has a handle. */
    debug_assert(handle != NULL);
    return handle;
}

/*
 * [hole][block] -> [block][hole]: the block (header and data) slides down to the hole's start and
 * a hole of the same length is written right above it. Only the hole's header matters: its data
 * bytes are garbage, so a plain memmove of the block is enough. Returns the hole's new place.
 */
static block_t *swap_with_hole_below(block_t *hole, block_t *block) {
    uint32_t hole_length = block_length(hole);
    block_t *moved = hole;
    handle_of(block)->ptr = block_data(moved);
    memmove(moved, block, block_size(block)); /* its `next` is set again by the next pass */
    block_t *new_hole = block_at(block_end(moved));
    block_init(new_hole, moved, hole_length | FLAG_HOLE);
    return new_hole;
}

/*
 * One full pass over the low side, bottom-up: every movable block lying right above a hole is
 * swapped with it. Re-links each block to the one below it as it goes (swaps change who is
 * below whom), and makes the topmost block that is not a hole the low head, so the holes above
 * it return to the middle (step 3, R8): right once a pass moves nothing, as the last one does.
 * Returns whether anything moved. `end` is the low side's end from before the move, which swaps
 * keep.
 */
static bool compaction_pass(char *end) {
    bool changed = false;
    block_t *below = NULL;
    heap.heads[SIDE_LOW] = NULL;
    for (char *cursor = arena_bottom(); cursor < end;) {
        block_t *block = block_at(cursor);
        block->next = below;
        if (below != NULL && block_is_hole(below) && !block_is_hole(block) &&
            block_is_movable(block)) {
            below = swap_with_hole_below(below, block);
            changed = true;
        } else {
            below = block;
            if (!block_is_hole(block)) {
                heap.heads[SIDE_LOW] = block;
            }
        }
        cursor = block_end(below);
    }
    return changed;
}

/* The link that points at the embedded block with the lowest address (list not empty). */
static block_t **lowest_embedded_link(void) {
    block_t **lowest = &heaprig_embedded_root;
    for (block_t **link = &heaprig_embedded_root; *link != NULL; link = &(*link)->next) {
        if (*link < *lowest) {
            lowest = link;
        }
    }
    return lowest;
}

/*
 * Step 4, promotion, the naive way: search the embedded list for its lowest block, unlink it and
 * place it as allocate_memory(length, low, movable) would (exact low hole, else the middle: no VM
 * runs, and the middle holds the block itself), copy it down; again until the list is empty.
 * Blocks still on the list lie higher than the one being placed, so neither its copy nor its
 * header reaches them.
 */
static void promote_embedded_blocks(void) {
    while (heaprig_embedded_root != NULL) {
        block_t **link = lowest_embedded_link();
        block_t *from = *link;
        *link = from->next;
        uint32_t length = block_length(from);
        supervisor_allocation *owner = handle_of(from);
        allocate(length, false, true, owner);
        /* memmove: the new place may overlap the old. Its header stays below from's data. */
        memmove(owner->ptr, block_data(from), length);
    }
}

/* Steps 2-4: compaction by full passes until one changes nothing, then promotion. */
static void move_blocks(void) {
    /* Compaction only permutes blocks and holes, so the low side keeps its extent. */
    char *end = low_end();
    while (compaction_pass(end)) {
    }
    promote_embedded_blocks();
}

#endif
