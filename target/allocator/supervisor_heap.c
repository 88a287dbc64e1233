/*
 * Movable supervisor heap allocations (SPEC §1): the rig's default backend (target/BACKENDS.md).
 *
 * The arena [bottom, top) is used like a stack from both ends:
 *
 *   bottom                                                                            top
 *   | low blocks -> ... low head | free middle ................ | high head ... <- high blocks |
 *
 *   - low blocks are packed upward from `bottom`, the newest (the low head) highest;
 *   - high blocks are packed downward from `top`, the newest (the high head) lowest;
 *   - the free middle is everything between the end of the low head and the high head.
 *
 * While a VM runs, its GC heap is the low head: one immovable block holding the whole middle
 * (allocate_remaining_memory). Movable requests that find no room then become *embedded* blocks:
 * long-lived GC blocks, header included, on the embedded list whose head is the rig's GC root
 * word (heaprig_embedded_root). After the VM exits its heap is freed and supervisor_move_memory()
 * compacts the low side and promotes the embedded blocks out of the dead heap, lowest address
 * first.
 *
 * Every block is a header followed by the client's data:
 *
 *   [ next | length + flags ][ data: length bytes ............ ]
 *   ^ block                  ^ block_data(block) == handle->ptr
 *
 * Flags live in the two low bits of the length (lengths are multiples of 4):
 *   HOLE     freed in place (not at a head). Keeps its header and length; reused only by a
 *            request of exactly its length; never merged with a neighbour.
 *   MOVABLE  the client copes with the block moving (it re-reads its handle or registered a
 *            move callback). Only movable blocks are compacted or embedded.
 *
 * Size matters here as on a board (`make size`): no init function (the state starts zeroed and
 * the arena bounds are read from the rig whenever a side is empty), no callback registry (the rig
 * runs the callbacks), the two sides share their code through `heads[side]`, and the checker,
 * walker and misuse report below are never called by a board, so its linker drops them.
 */
#include "supervisor_heap.h"

#include <string.h>

/* ---- Block header ------------------------------------------------------------------------- */

/*
 * The header of every block. The tag is the one heaprig_backend.h declares for the embedded list
 * root, so the root word holds a block_t * as it is.
 * - `next` links blocks of the same side, towards the arena end the side grows from:
 *   a low block's next is the block below it, a high block's next the block above it; the
 *   block at `bottom` (or `top`) has NULL. Embedded blocks link the embedded list instead, and
 *   `next` is the header's first word on purpose: it is the word the GC scans to keep the
 *   next embedded block alive. Inside supervisor_move_memory() it holds the block's owner
 *   instead (block_owner(); the links are re-made before the move returns).
 * - `length_and_flags` is the data length in bytes (a multiple of 4, never 0) with HOLE and
 *   MOVABLE in its two low bits. A hole has HOLE alone. Use the accessors below, never the field.
 *
 * Global invariants (heap_check() verifies each and names the first one broken):
 *   low_chain_packed    low blocks tile [bottom, end of the low head) with no gap;
 *   low_chain_linked    each low block's `next` is the block right below it (lowest: NULL);
 *   high_chain_packed   high blocks tile [high head, top) with no gap;
 *   high_chain_linked   each high block's `next` is the block right above it (topmost: NULL);
 *   middle_non_negative the end of the low head is not above the start of the high head;
 *   head_not_hole       neither head is a hole (freeing a head pops the holes below it, R8);
 *   embedded_inside_gc_heap  embedded blocks lie inside the low head (the GC heap) and exist only
 *                       while a VM runs;
 *   embedded_ordered    the embedded list runs in ascending address order (it is kept so on
 *                       insertion, which makes promotion lowest-first a plain walk);
 *   handle_points_at_block   every live handle points at the data of a live (non-hole) block;
 *   handles_distinct    no two handles point at the same block;
 *   block_has_handle    every live block is owned by a handle (no orphan, SPEC D3);
 *   move_finished       R12 lookups are only active inside supervisor_move_memory().
 */
typedef struct _supervisor_allocation_node {
    struct _supervisor_allocation_node *next;
    uint32_t length_and_flags;
} block_t;

_Static_assert(sizeof(block_t) == SUPERVISOR_HEADER_BYTES,
               "the header is a link and a length word");

#define FLAG_HOLE 0x1u
#define FLAG_MOVABLE 0x2u
#define FLAG_MASK (FLAG_HOLE | FLAG_MOVABLE)
#define WORD_BYTES 4u
/* The smallest data length allocate_remaining_memory() will hand out (R6). */
#define REMAINING_MIN_LENGTH WORD_BYTES

/* Index of heads[]: a side's bool `high` is its index. */
#define SIDE_LOW 0
#define SIDE_HIGH 1
#define SIDE_COUNT 2

/* ---- State -------------------------------------------------------------------------------- */

/* All of it starts zeroed: no allocation, both sides empty (the rig resets it between scenarios,
 * heaprig_backend.h). */
typedef struct {
    /* Newest block of each side, NULL when that side is empty. */
    block_t *heads[SIDE_COUNT];
    supervisor_allocation slots[SUPERVISOR_SLOTS];
#if SUPERVISOR_MOVE_SUPPORT
    /* While the rig runs the move callbacks: the slots as they were when the move began (a copy
     * on supervisor_move_memory()'s stack), for R12 lookups. NULL otherwise. */
    const supervisor_allocation *slots_before_move;
#endif
#if HEAPRIG_DEBUG
    const char *misuse; /* the last caller error refused, until the rig takes it */
#endif
} supervisor_heap_t;

static supervisor_heap_t heap;

/* ---- Accessors ---------------------------------------------------------------------------- */

static inline uint32_t block_length(const block_t *block) {
    return block->length_and_flags & ~FLAG_MASK;
}

static inline bool block_is_hole(const block_t *block) {
    return (block->length_and_flags & FLAG_HOLE) != 0;
}

static inline bool block_is_movable(const block_t *block) {
    return (block->length_and_flags & FLAG_MOVABLE) != 0;
}

/* Header plus data: the bytes the block occupies. */
static inline uint32_t block_size(const block_t *block) {
    return SUPERVISOR_HEADER_BYTES + block_length(block);
}

static inline uint32_t *block_data(block_t *block) {
    return (uint32_t *)(block + 1);
}

static inline block_t *block_from_data(void *data) {
    return (block_t *)data - 1;
}

static inline char *block_start(const block_t *block) {
    return (char *)block;
}

static inline char *block_end(const block_t *block) {
    return block_start(block) + block_size(block);
}

static inline block_t *block_at(char *address) {
    return (block_t *)address;
}

static inline void block_init(block_t *block, block_t *next, uint32_t length_and_flags) {
    block->next = next;
    block->length_and_flags = length_and_flags;
}

static inline uint32_t movable_flag(bool movable) {
    return movable ? FLAG_MOVABLE : 0u;
}

/* The arena bounds, asked of the rig each time: there is no init function to remember them in. */
static inline char *arena_bottom(void) {
    return (char *)heaprig_heap_bottom();
}

static inline char *arena_top(void) {
    return (char *)heaprig_heap_top();
}

static char *low_end(void) {
    return heap.heads[SIDE_LOW] != NULL ? block_end(heap.heads[SIDE_LOW]) : arena_bottom();
}

/* Always inlined: -Os would keep it a call, and its one use in placement is cheaper inline. */
static inline __attribute__((always_inline)) char *high_start(void) {
    return heap.heads[SIDE_HIGH] != NULL ? block_start(heap.heads[SIDE_HIGH]) : arena_top();
}

static inline uint32_t middle_size(void) {
    return (uint32_t)(high_start() - low_end());
}

/* ---- Caller errors (debug builds) --------------------------------------------------------- */

#if HEAPRIG_DEBUG
static void report_misuse(const char *message) {
    heap.misuse = message;
}

const char *supervisor_heap_take_misuse(void) {
    const char *message = heap.misuse;
    heap.misuse = NULL;
    return message;
}

/* Debug builds only: a release build trusts its callers, as a board's allocator does. */
#define debug_assert(expr) supervisor_heap_assert(expr)
#else
/* Release builds keep no message: the rig's fallback supervisor_heap_take_misuse() says none. */
#define report_misuse(message) ((void)0)
#define debug_assert(expr) ((void)0)
#endif

/* ---- Handles ------------------------------------------------------------------------------ */

/* The slot whose pointer in `table` (the slots now, or a copy from before the move) is `ptr`;
 * NULL if none. With ptr NULL: the first free slot. */
static supervisor_allocation *slot_holding(const supervisor_allocation *table, const void *ptr) {
    /* A loop, not one copy of its body per slot: gcc peels short loops even at -Os, which costs
     * a board a dozen bytes here for no speed worth having. */
#pragma GCC unroll 1
    for (size_t i = 0; i < SUPERVISOR_SLOTS; i++) {
        if (table[i].ptr == ptr) {
            return &heap.slots[i];
        }
    }
    return NULL;
}

/* ---- Placement (R3) ----------------------------------------------------------------------- */

/* Step 1/3: the first HOLE of exactly `length` on a side, searched from that side's head. */
static block_t *hole_to_block(bool high, uint32_t length, uint32_t flags) {
    for (block_t *block = heap.heads[high]; block != NULL; block = block->next) {
        if (block->length_and_flags == (length | FLAG_HOLE)) {
            block->length_and_flags = length | flags;
            return block;
        }
    }
    return NULL;
}

/*
 * Step 2: header + `length` carved from the free middle and pushed on a side, or NULL. Length 0
 * asks for the whole middle (allocate_remaining_memory), which must hold at least 4 bytes of
 * data (R6): never a wrapped length.
 */
static block_t *middle_to_block(bool high, uint32_t length, uint32_t flags) {
    char *low = low_end();
    char *high_edge = high_start();
    uint32_t middle = (uint32_t)(high_edge - low);
    /* Every request is at least REMAINING_MIN_LENGTH long (R1), so this refuses nothing that
     * would fit; and subtracting from the middle, never adding to `length`, cannot wrap. */
    if (middle < SUPERVISOR_HEADER_BYTES + REMAINING_MIN_LENGTH) {
        return NULL;
    }
    uint32_t room = middle - SUPERVISOR_HEADER_BYTES;
    if (length == 0) {
        length = room;
    }
    if (room < length) {
        return NULL;
    }
    block_t *block = block_at(high ? high_edge - SUPERVISOR_HEADER_BYTES - length : low);
    block_init(block, heap.heads[high], length | flags);
    heap.heads[high] = block;
    return block;
}

/*
 * Step 4: a long-lived GC block, header included, inserted into the embedded list in address
 * order (a short walk here saves sorting at every VM exit).
 */
static block_t *gc_to_embedded_block(uint32_t length) {
    /* Saturated rather than wrapped: a hopeless request still reaches the GC, which collects. */
    size_t bytes = SUPERVISOR_HEADER_BYTES + (size_t)length;
    if (bytes < length) {
        bytes = SIZE_MAX;
    }
    block_t *block = heaprig_gc_alloc(bytes, true);
    if (block != NULL) {
        block_t **link = &heaprig_embedded_root;
        while (*link != NULL && *link < block) {
            link = &(*link)->next;
        }
        block_init(block, *link, length | FLAG_MOVABLE);
        *link = block;
    }
    return block;
}

/* R3, steps 1 to 4 in order. `movable` is already false without move support (R14), which
 * also drops step 4 from such a build. */
static block_t *place_block(uint32_t length, bool high, bool movable) {
    uint32_t flags = movable_flag(movable);
    bool vm_running = heaprig_gc_alloc_possible();
    block_t *block = hole_to_block(high, length, flags);
    /* While a VM runs its GC heap is the low head and must stay so: freeing it at VM exit has to
     * return it, and the embedded blocks inside it, to the middle (§1.5). Space can open in the
     * middle during a run (a high block freed), but a low block pushed there would sit above the
     * GC heap, so low requests leave the middle alone until the VM exits; high ones may use it. */
    if (block == NULL && (high || !vm_running)) {
        block = middle_to_block(high, length, flags);
    }
    if (block == NULL) {
        block = hole_to_block(!high, length, flags);
    }
    if (block == NULL && movable && vm_running) {
        block = gc_to_embedded_block(length);
    }
    return block;
}

/* ---- Public API: allocation --------------------------------------------------------------- */

/* A block placed by R3 for `slot`, which then points at its data. Slot NULL: a free slot is
 * taken first, and without one (R5) nothing is carved. Promotion passes the handle the block
 * already has, so that place_block has one caller and is compiled once, inline (`make size`).
 * Length 0: the whole middle (see middle_to_block; no hole has length 0). */
static supervisor_allocation *allocate(uint32_t length, bool high, bool movable,
                                       supervisor_allocation *slot) {
    if (slot == NULL) {
        slot = slot_holding(heap.slots, NULL);
    }
    if (slot == NULL) {
        return NULL;
    }
    block_t *block = place_block(length, high, movable);
    if (block == NULL) {
        return NULL;
    }
    slot->ptr = block_data(block);
    return slot;
}

supervisor_allocation *allocate_memory(uint32_t length, bool high, bool movable) {
    if (length == 0 || length % WORD_BYTES != 0) {
        return NULL; /* R1 */
    }
    if (high && movable) {
        report_misuse("allocate_memory: a movable allocation must be low (R2)");
        return NULL;
    }
    return allocate(length, high, movable && SUPERVISOR_MOVE_SUPPORT, NULL);
}

supervisor_allocation *allocate_remaining_memory(void) {
    /* R6: the middle, low and immovable, or NULL (also while a VM runs: see place_block). */
    return allocate(0, false, false, NULL);
}

size_t get_allocation_length(supervisor_allocation *allocation) {
    /* unreachable: ptr NULL (a freed handle); the rig asks only about handles it holds. */
    if (allocation == NULL || allocation->ptr == NULL) {
        return 0;
    }
    return block_length(block_from_data(allocation->ptr));
}

/* ---- Public API: freeing ------------------------------------------------------------------ */

/* R8: pop a side's head, then every hole below it; the space returns to the middle. */
static void head_to_middle(int side) {
    do {
        heap.heads[side] = heap.heads[side]->next;
    } while (heap.heads[side] != NULL && block_is_hole(heap.heads[side]));
}

#if HEAPRIG_DEBUG
/* unreachable: the loop running out (false); the rig frees only handles this heap gave it. */
static bool is_handle(const supervisor_allocation *allocation) {
    for (size_t i = 0; i < SUPERVISOR_SLOTS; i++) {
        if (allocation == &heap.slots[i]) {
            return true;
        }
    }
    return false;
}
#endif

void free_memory(supervisor_allocation *allocation) {
    /* unreachable: ptr NULL; the rig frees NULL for a failed allocation, never a freed handle. */
    if (allocation == NULL || allocation->ptr == NULL) {
        return; /* R7 */
    }
#if HEAPRIG_DEBUG
    /* unreachable: the rig frees only handles this heap gave it (a board's bug, not the rig's). */
    if (!is_handle(allocation)) {
        report_misuse("free_memory: not a handle of this heap");
        return;
    }
#endif
    block_t *block = block_from_data(allocation->ptr);
    allocation->ptr = NULL;
    for (int side = SIDE_LOW; side < SIDE_COUNT; side++) {
        if (block == heap.heads[side]) {
            head_to_middle(side);
            return;
        }
    }
#if SUPERVISOR_MOVE_SUPPORT
    for (block_t **link = &heaprig_embedded_root; *link != NULL; link = &(*link)->next) {
        if (*link == block) { /* R9 */
            *link = block->next;
            heaprig_gc_free(block);
            return;
        }
    }
#endif
    block->length_and_flags = block_length(block) | FLAG_HOLE; /* R10 */
}

/* ---- Public API: lookup ------------------------------------------------------------------- */

supervisor_allocation *allocation_from_ptr(void *ptr) {
    /* R11 allows returning a free slot for NULL; answering NULL is safer and also allowed. */
    if (ptr == NULL) {
        return NULL;
    }
    const supervisor_allocation *table = heap.slots;
#if SUPERVISOR_MOVE_SUPPORT
    if (heap.slots_before_move != NULL) {
        table = heap.slots_before_move; /* R12 */
    }
#endif
    return slot_holding(table, ptr);
}

/* ---- The move (§1.5) ---------------------------------------------------------------------- */

#if SUPERVISOR_MOVE_SUPPORT

/*
 * Steps 2 to 4 are move_blocks(). The bench's baseline backend (target/backends/baseline/)
 * defines SUPERVISOR_HEAP_BASELINE_MOVE, includes this file and defines its own move_blocks()
 * after it, with the original scheme's naive compaction and promotion: all else is this code.
 */
#ifdef SUPERVISOR_HEAP_BASELINE_MOVE
static void move_blocks(void);
#else

/*
 * During the move a block's `next` is scratch: the low side's links are re-derived from the
 * layout afterwards (relink_low_side), and an embedded block's link is parked in its handle
 * (see own_blocks). So `next` holds the block's owner instead, and a moved block carries its
 * owner along in its header: no handle is ever searched for.
 */
static inline void block_set_owner(block_t *block, supervisor_allocation *owner) {
    block->next = (block_t *)(void *)owner;
}

static inline supervisor_allocation *block_owner(const block_t *block) {
    return (supervisor_allocation *)(void *)block->next;
}

/*
 * One pass over the slots: every low or embedded block (all below the high side; the GC heap is
 * freed, so embedded blocks lie in the middle) swaps words with its handle: the handle parks the
 * block's `next` (an embedded block's list link; a low block's, which is stale anyway) and the
 * block holds its owner. High blocks never move and keep theirs.
 */
static void own_blocks(char *high_edge) {
    for (supervisor_allocation *slot = heap.slots; slot < heap.slots + SUPERVISOR_SLOTS; slot++) {
        if (slot->ptr == NULL) {
            continue;
        }
        block_t *block = block_from_data(slot->ptr);
        if (block_start(block) < high_edge) {
            slot->ptr = (uint32_t *)(void *)block->next;
            block_set_owner(block, slot);
        }
    }
}

/*
 * The holes gathered below the block being looked at (one stretch of compaction): the gap
 * [bottom, that block) they cover, whose bytes are garbage but for the record: the holes'
 * length-and-flags words, oldest first, kept somewhere inside the gap. Every hole is at least
 * a header and a word (12 bytes) and its record entry one word, so the record fills at most a
 * third of the gap.
 */
typedef struct {
    char *bottom;
    uint32_t *record;
    uint32_t count;
} gap_t;

static inline uint32_t record_bytes(const gap_t *gap) {
    return gap->count * WORD_BYTES;
}

/* The record moved to the top of the gap (`top`, where the gap ends): as far as it can be from
 * the gap's bottom. */
static void record_to_top(gap_t *gap, char *top) {
    gap->record = memmove(top - record_bytes(gap), gap->record, record_bytes(gap));
}

/*
 * A movable block [from, next), right above the gap, goes down to the gap's bottom (header and
 * data) and the gap rises above it, to end at `next`. It is copied in chunks that end where the
 * record begins; when the record sits at the gap's bottom, in the way, it first goes to the top
 * of the gap (where the block's bytes copied so far were). Such a relocation costs the record's
 * bytes, at most a third of the gap, and leaves at least two thirds of the gap free below the
 * record: the chunks copied until the next relocation add up to that much, which pays for it.
 * The work stays linear in the bytes moved.
 */
static void block_below_gap(gap_t *gap, char *from, char *next) {
    while (from < next) {
        if ((char *)gap->record == gap->bottom) {
            record_to_top(gap, from);
        }
        uint32_t chunk = (uint32_t)((char *)gap->record - gap->bottom);
        if (chunk > (uint32_t)(next - from)) {
            chunk = (uint32_t)(next - from);
        }
        memmove(gap->bottom, from, chunk);
        gap->bottom += chunk;
        from += chunk;
    }
}

/*
 * The end of a stretch (an immovable block or the low side's end, at `top`): the holes are
 * re-made in the gap in their old order and sizes; only their length words (their `next` is
 * re-derived later). With the record at the top, each length word is written below the entries
 * still to be read: the holes left are at least 12 bytes each, their entries 4.
 */
static void gap_to_holes(gap_t *gap, char *top) {
    record_to_top(gap, top);
    char *cursor = gap->bottom;
    for (uint32_t i = 0; i < gap->count; i++) {
        block_t *hole = block_at(cursor);
        hole->length_and_flags = gap->record[i];
        cursor = block_end(hole);
    }
    gap->count = 0;
}

/*
 * Step 2, compaction. Holes bubble up past movable blocks and stop at immovable ones, so within
 * each stretch between immovable blocks the movable blocks end up packed at its bottom in their
 * old order, and its holes above them in their old order and sizes. One pass bottom-up does it:
 * the holes' contents are garbage, so only their lengths are kept (the gap's record) while each
 * movable block is copied down past them.
 */
static void compact_low_side(char *end) {
    gap_t gap;
    gap.count = 0; /* no holes yet: the first one sets the rest */
    for (char *cursor = arena_bottom(); cursor < end;) {
        block_t *block = block_at(cursor);
        char *next = block_end(block);
        if (block_is_hole(block)) {
            if (gap.count == 0) {
                gap.bottom = cursor;
                gap.record = (uint32_t *)cursor;
            }
            /* The entry's word lies in the gap or in this hole's header, read just before. */
            gap.record[gap.count++] = block->length_and_flags;
        } else if (gap.count != 0) {
            if (block_is_movable(block)) {
                block_below_gap(&gap, cursor, next);
            } else {
                gap_to_holes(&gap, cursor);
            }
        }
        cursor = next;
    }
    if (gap.count != 0) {
        gap_to_holes(&gap, end);
    }
}

/*
 * Steps 2-3, after compaction: every low `next` is re-derived from the packed layout, each low
 * block's owner is pointed at its data, and the low head becomes the topmost block that is not a
 * hole, so the holes that reached the top return to the middle (R8). `end` is the low side's end
 * from before the move: the low head pointer itself is stale now.
 */
static void relink_low_side(char *end) {
    block_t *below = NULL;
    heap.heads[SIDE_LOW] = NULL;
    for (char *cursor = arena_bottom(); cursor < end; cursor = block_end(below)) {
        block_t *block = block_at(cursor);
        if (!block_is_hole(block)) {
            block_owner(block)->ptr = block_data(block);
            heap.heads[SIDE_LOW] = block;
        }
        block->next = below;
        below = block;
    }
}

/*
 * Step 4, promotion. The dead GC heap is free middle now, so each embedded block lies in the
 * middle; the list is in address order, its links parked in the owners (own_blocks). Lowest
 * first, each is placed as allocate_memory(length, low, movable) would place it (exact low hole,
 * else the middle: no VM runs, and the middle holds the block itself) and copied down: its new
 * place never reaches above its old one, and every block not yet moved lies higher still.
 */
static void promote_embedded_blocks(void) {
    block_t *from = heaprig_embedded_root;
    heaprig_embedded_root = NULL;
    while (from != NULL) {
        supervisor_allocation *owner = block_owner(from);
        block_t *next = (block_t *)(void *)owner->ptr;
        uint32_t length = block_length(from);
        allocate(length, false, true, owner);
        /* memmove: the new place may overlap the old. Its header stays below from's data. */
        memmove(owner->ptr, block_data(from), length);
        from = next;
    }
}

/* Steps 2-4. */
static void move_blocks(void) {
    /* Compaction only permutes blocks and holes, so the low side keeps its extent. */
    char *end = low_end();
    own_blocks(high_start());
    compact_low_side(end);
    relink_low_side(end);
    promote_embedded_blocks();
}

#endif

void supervisor_move_memory(void) {
#if HEAPRIG_DEBUG
    /* unreachable: the rig calls it only at VM exit, after the GC heap is torn down (MODEL.md). */
    if (heaprig_gc_alloc_possible()) {
        report_misuse("supervisor_move_memory: called while the VM heap is alive");
        return;
    }
#endif
    /* Step 1, for R12. */
    supervisor_allocation slots_before_move[SUPERVISOR_SLOTS];
    memcpy(slots_before_move, heap.slots, sizeof(slots_before_move));
    move_blocks();
    /* Step 5: the rig runs every move callback, with R12 lookups of old pointers active. */
    heap.slots_before_move = slots_before_move;
    heaprig_allocations_moved();
    heap.slots_before_move = NULL;
}

#else

void supervisor_move_memory(void) {
    /* R14: without move support nothing is ever embedded or movable. */
}

#endif

/* ---- Walker ------------------------------------------------------------------------------- */
/* After every event the rig holds this walk to what it observes through the handles
 * (target/interp/walker_check.c): a map dump or a debugger that trusts it sees the truth. */

static void visit_side(char *from, char *to, bool high, heap_walker_t visit, void *context) {
    for (char *cursor = from; cursor < to; cursor += block_size(block_at(cursor))) {
        block_t *block = block_at(cursor);
        heap_region_t region = {
            .start = block,
            .length = block_length(block),
            .movable = block_is_movable(block),
            .allocation = NULL,
        };
        if (block_is_hole(block)) {
            region.kind = high ? REGION_HIGH_HOLE : REGION_LOW_HOLE;
        } else {
            region.kind = high ? REGION_HIGH_BLOCK : REGION_LOW_BLOCK;
            region.allocation = slot_holding(heap.slots, block_data(block));
        }
        visit(&region, context);
    }
}

void heap_walk(heap_walker_t visit, void *context) {
    visit_side(arena_bottom(), low_end(), false, visit, context);
    heap_region_t middle = {
        .kind = REGION_FREE_MIDDLE, .start = low_end(), .length = middle_size()};
    visit(&middle, context);
    visit_side(high_start(), arena_top(), true, visit, context);
    for (block_t *block = heaprig_embedded_root; block != NULL; block = block->next) {
        heap_region_t region = {
            .kind = REGION_EMBEDDED_BLOCK,
            .start = block,
            .length = block_length(block),
            .movable = block_is_movable(block),
            .allocation = slot_holding(heap.slots, block_data(block)),
        };
        visit(&region, context);
    }
}

/* ---- Checker ------------------------------------------------------------------------------ */
/*
 * Read-only. Walks follow block sizes, not `next` links, and every address is bounds-checked
 * before it is read, so a corrupted heap is reported rather than crashing the checker.
 *
 * Its failure paths run only on a broken heap: the allocator keeps every invariant. The
 * scenarios of scenarios/corruption/ break the heap on purpose, with `poke` (PROTOCOL.md): it
 * writes words of the arena (links, length words) behind the allocator's back, as a driver's
 * stray write would. The paths they still cannot reach carry a marker saying why (`make
 * coverage` counts them apart, harness/heaprig/coverage_report.py), for one of two reasons:
 *   - the state they look at is the allocator's own (the heads, the handle slots, the embedded
 *     list's root word, the move's slot copy), which no event writes; or
 *   - the corruption that would reach them changes what the rig observes through the handles,
 *     and the rig's backend-neutral detectors, run before this checker after every event (and
 *     only together with it), report it first and end the run (PROTOCOL.md "Detectors").
 * These paths are still what reports a wrong allocator, e.g. a mutant's.
 */

static heap_check_result_t broken(const char *invariant, const void *where, const char *detail) {
    return (heap_check_result_t){invariant, where, detail};
}

static const heap_check_result_t heap_sound = {NULL, NULL, NULL};

static bool in_arena(const void *address) {
    /* unreachable: false. It is asked about the heads and the handles' pointers, allocator state
     * no event writes (poke writes only the arena's words). */
    return (const char *)address >= arena_bottom() && (const char *)address <= arena_top();
}

static bool word_aligned(const void *address) {
    return ((uintptr_t)address % WORD_BYTES) == 0;
}

/* A block header that can be read, whose data length is sane and which ends by `limit`. */
static bool block_fits(const char *start, const char *limit) {
    /* unreachable: a header starting misaligned or less than a header before the limit. Walks
     * step by whole block sizes, so only a length that does not tile gets them there, and that
     * changes a block's observed extent (detectors first: `orphan` for a hole's or the gap a
     * block leaves, `overlap`, `guard`); heads and embedded nodes are the allocator's to place. */
    if (!word_aligned(start) || start + SUPERVISOR_HEADER_BYTES > limit) {
        return false;
    }
    const block_t *block = (const block_t *)start;
    uint32_t length = block_length(block);
    /* unreachable: false for a length past the limit: the limit is the low head's end (which moves
     * with the head's own length), the top or the GC heap's end, and a length running past it
     * makes the block overlap the next or leave the arena (detectors first). */
    return length != 0 && length <= (uint32_t)(limit - start) - SUPERVISOR_HEADER_BYTES;
}

/* A head that is set but whose header cannot be read inside the arena. */
static bool head_unreadable(const block_t *head) {
    /* unreachable: true for a head outside the arena (allocator state no event writes). */
    return head != NULL && !(in_arena(head) && block_fits((const char *)head, arena_top()));
}

static bool head_is_hole(const block_t *head) {
    return head != NULL && block_is_hole(head);
}

static heap_check_result_t check_low_side(void) {
    block_t *head = heap.heads[SIDE_LOW];
    if (head_unreadable(head)) {
        return broken("low_chain_packed", head,
                      "the low head's header is not a readable block inside the arena");
    }
    char *end = low_end();
    block_t *below = NULL;
    char *cursor = arena_bottom();
    while (cursor < end) {
        /* unreachable: a block below the head whose length is 0 or runs past the head: the gap it
         * leaves or the block it runs into is a detector's finding first (the head's own bad
         * length fails head_unreadable above). */
        if (!block_fits(cursor, end)) {
            return broken("low_chain_packed", cursor,
                          "a low block's length runs past the low head or is zero");
        }
        block_t *block = block_at(cursor);
        if (block->next != below) {
            return broken("low_chain_linked", block, "next is not the block right below");
        }
        below = block;
        cursor += block_size(block);
    }
    /* unreachable: the walk misses the head only through a length that does not tile (detectors
     * first, as above) or a head the allocator misplaced (its own state). */
    if (below != head) {
        return broken("low_chain_packed", head,
                      "walking up from the bottom does not land on the low head");
    }
    return heap_sound;
}

static heap_check_result_t check_high_side(void) {
    char *top = arena_top();
    /* unreachable: the high head's length poked to 0 leaves a gap between its header and the
     * block above, an `orphan` finding first; a head outside the arena is allocator state. */
    if (head_unreadable(heap.heads[SIDE_HIGH])) {
        return broken("high_chain_packed", heap.heads[SIDE_HIGH],
                      "the high head's header is not a readable block inside the arena");
    }
    for (char *cursor = high_start(); cursor < top;) {
        /* unreachable: a high block whose length is 0 or runs past the top: the gap it leaves or
         * the block it runs into (or the arena's edge) is a detector's finding first. */
        if (!block_fits(cursor, top)) {
            return broken("high_chain_packed", cursor, "a high block's length runs past the top");
        }
        block_t *block = block_at(cursor);
        cursor += block_size(block);
        block_t *above = cursor < top ? block_at(cursor) : NULL;
        if (block->next != above) {
            return broken("high_chain_linked", block, "next is not the block right above");
        }
    }
    return heap_sound;
}

/* Is `block` a live (non-hole) block of the low side, the high side or the embedded list? */
static bool is_live_block(const block_t *block) {
    const char *start = (const char *)block;
    char *sides[SIDE_COUNT][2] = {{arena_bottom(), low_end()}, {high_start(), arena_top()}};
    for (int side = SIDE_LOW; side < SIDE_COUNT; side++) {
        for (char *cursor = sides[side][0]; cursor < sides[side][1];
             cursor += block_size(block_at(cursor))) {
            if (cursor == start) {
                return !block_is_hole(block);
            }
        }
    }
    for (block_t *embedded = heaprig_embedded_root; embedded != NULL; embedded = embedded->next) {
        if (embedded == block) {
            return true;
        }
    }
    return false;
}

static heap_check_result_t check_embedded_list(void) {
    size_t count = 0;
    block_t *gc_heap = heap.heads[SIDE_LOW];
    for (block_t *block = heaprig_embedded_root; block != NULL; block = block->next) {
        /* unreachable: the list's root word is the allocator's to write (the rig's GC root, SPEC
         * §2), no event writes it, and the allocator empties the list at every VM exit. */
        if (!heaprig_gc_alloc_possible()) {
            return broken("embedded_inside_gc_heap", block, "an embedded block outlived its VM");
        }
        /* The GC heap is the low head while a VM runs; embedded blocks lie in its data. */
        /* unreachable: a node outside the GC heap's data is no embedded block any handle owns:
         * the `orphan` detector's walk of the list reports it first. */
        if (gc_heap == NULL || (char *)block < (char *)block_data(gc_heap) ||
            !block_fits((char *)block, block_end(gc_heap))) {
            return broken("embedded_inside_gc_heap", block,
                          "an embedded block lies outside the GC heap");
        }
        /* unreachable: more nodes than handles, or a cycle: a node no handle owns, or a walk
         * longer than there are owners, is an `orphan` finding first. */
        if (++count > SUPERVISOR_SLOTS) {
            return broken("block_has_handle", block, "more embedded blocks than handle slots");
        }
        if (block->next != NULL && block->next <= block) {
            return broken("embedded_ordered", block, "the embedded list is not in address order");
        }
    }
    return heap_sound;
}

static heap_check_result_t check_handles(void) {
    for (size_t i = 0; i < SUPERVISOR_SLOTS; i++) {
        uint32_t *ptr = heap.slots[i].ptr;
        if (ptr == NULL) {
            continue;
        }
        /* unreachable: a pointer outside the arena or misaligned: handles are allocator state no
         * event writes (a block at no live place is reachable: a hole's bit, an unlinked node). */
        if (!in_arena(ptr) || !word_aligned(ptr) || !is_live_block(block_from_data(ptr))) {
            return broken("handle_points_at_block", block_from_data(ptr),
                          "a live handle does not point at the data of a live block");
        }
        for (size_t j = i + 1; j < SUPERVISOR_SLOTS; j++) {
            /* unreachable: two handles holding one pointer (handles are allocator state; two
             * live blocks at one place are an `overlap` finding first). */
            if (heap.slots[j].ptr == ptr) {
                return broken("handles_distinct", block_from_data(ptr),
                              "two handles share a block");
            }
        }
    }
    return heap_sound;
}

static heap_check_result_t check_every_block_owned(char *from, char *to) {
    for (char *cursor = from; cursor < to; cursor += block_size(block_at(cursor))) {
        block_t *block = block_at(cursor);
        /* unreachable: a live block no handle owns lies between owned blocks (the heads are
         * owned): the `orphan` detector reads every such gap first. */
        if (!block_is_hole(block) && slot_holding(heap.slots, block_data(block)) == NULL) {
            return broken("block_has_handle", block, "a live block is owned by no handle");
        }
    }
    return heap_sound;
}

heap_check_result_t heap_check(void) {
    heap_check_result_t result = check_low_side();
    if (result.invariant == NULL) {
        result = check_high_side();
    }
    /* unreachable: the heads are allocator state, and a low head whose poked length runs over
     * the high side is an `overlap` finding (past the top a `guard` finding) first. */
    if (result.invariant == NULL && low_end() > high_start()) {
        result = broken("middle_non_negative", heap.heads[SIDE_LOW],
                        "the low head overlaps the high head");
    }
    if (result.invariant == NULL && head_is_hole(heap.heads[SIDE_LOW])) {
        result = broken("head_not_hole", heap.heads[SIDE_LOW], "the low head is a hole");
    }
    if (result.invariant == NULL && head_is_hole(heap.heads[SIDE_HIGH])) {
        result = broken("head_not_hole", heap.heads[SIDE_HIGH], "the high head is a hole");
    }
    if (result.invariant == NULL) {
        result = check_embedded_list();
    }
    if (result.invariant == NULL) {
        result = check_handles();
    }
    if (result.invariant == NULL) {
        result = check_every_block_owned(arena_bottom(), low_end());
    }
    if (result.invariant == NULL) {
        result = check_every_block_owned(high_start(), arena_top());
    }
    /* unreachable: the loop ending on an invariant it broke (an embedded node no handle owns,
     * an `orphan` finding first). */
    for (block_t *block = heaprig_embedded_root; result.invariant == NULL && block != NULL;
         block = block->next) {
        /* unreachable: as the loop's own condition above. */
        if (slot_holding(heap.slots, block_data(block)) == NULL) {
            result = broken("block_has_handle", block, "an embedded block is owned by no handle");
        }
    }
#if SUPERVISOR_MOVE_SUPPORT
    /* unreachable: the slot copy is set and cleared inside supervisor_move_memory(), allocator
     * state no event writes; the checker runs between events. */
    if (result.invariant == NULL && heap.slots_before_move != NULL) {
        result = broken("move_finished", NULL, "R12 lookups still active after the move");
    }
#endif
    return result;
}
