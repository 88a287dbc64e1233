/*
 * The *baseline* backend (issue 6), measured against ours by `make bench`; not a product.
 * A copy of our allocator (target/allocator/supervisor_heap.c) with only the move's two
 * algorithms replaced by the original scheme's naive ones:
 *   - compaction: full passes over the low side, bottom-up, each swapping every movable block
 *     with the hole right below it, until a pass changes nothing (O(n^2) block moves);
 *   - promotion: again and again, search the embedded list for its lowest block and place it
 *     (O(e^2) list walks). For that the embedded list is kept as the original kept it, new
 *     blocks pushed at its head, not sorted on insertion: gc_to_embedded_block differs too, and
 *     the checker has no `embedded_ordered`.
 * Everything else is our code, unchanged, and the results (maps, moves, callbacks) are the
 * same: harness/tests/test_bench.py runs every scenario and the differential smoke on it. Keep
 * `diff -u` against ours to those parts when ours changes.
 *
 * Movable supervisor heap allocations (SPEC §1).
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
#include "../../allocator/supervisor_heap.h"

#include <string.h>

/* ---- Block header ------------------------------------------------------------------------- */

/*
 * The header of every block. The tag is the one heaprig_backend.h declares for the embedded list
 * root, so the root word holds a block_t * as it is.
 * - `next` links blocks of the same side, towards the arena end the side grows from:
 *   a low block's next is the block below it, a high block's next the block above it; the
 *   block at `bottom` (or `top`) has NULL. Embedded blocks link the embedded list instead, and
 *   `next` is the header's first word on purpose: it is the word the GC scans to keep the
 *   next embedded block alive.
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
 * Step 4: a long-lived GC block, header included, pushed at the head of the embedded list (in
 * no particular address order: promotion searches it for the lowest block).
 */
static block_t *gc_to_embedded_block(uint32_t length) {
    /* Saturated rather than wrapped: a hopeless request still reaches the GC, which collects. */
    size_t bytes = SUPERVISOR_HEADER_BYTES + (size_t)length;
    if (bytes < length) {
        bytes = SIZE_MAX;
    }
    block_t *block = heaprig_gc_alloc(bytes, true);
    if (block != NULL) {
        block_init(block, heaprig_embedded_root, length | FLAG_MOVABLE);
        heaprig_embedded_root = block;
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
    if (allocation == NULL || allocation->ptr == NULL) {
        return; /* R7 */
    }
#if HEAPRIG_DEBUG
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

/* Steps 2-3, compaction, the naive way: full passes until one changes nothing. */
static void compact_low_side(char *end) {
    while (compaction_pass(end)) {
    }
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

void supervisor_move_memory(void) {
#if HEAPRIG_DEBUG
    if (heaprig_gc_alloc_possible()) {
        report_misuse("supervisor_move_memory: called while the VM heap is alive");
        return;
    }
#endif
    /* Step 1, for R12. */
    supervisor_allocation slots_before_move[SUPERVISOR_SLOTS];
    memcpy(slots_before_move, heap.slots, sizeof(slots_before_move));
    /* Compaction only permutes blocks and holes, so the low side keeps its extent. */
    char *end = low_end();
    compact_low_side(end);
    promote_embedded_blocks();
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
 */

static heap_check_result_t broken(const char *invariant, const void *where, const char *detail) {
    return (heap_check_result_t){invariant, where, detail};
}

static const heap_check_result_t heap_sound = {NULL, NULL, NULL};

static bool in_arena(const void *address) {
    return (const char *)address >= arena_bottom() && (const char *)address <= arena_top();
}

static bool word_aligned(const void *address) {
    return ((uintptr_t)address % WORD_BYTES) == 0;
}

/* A block header that can be read, whose data length is sane and which ends by `limit`. */
static bool block_fits(const char *start, const char *limit) {
    if (!word_aligned(start) || start + SUPERVISOR_HEADER_BYTES > limit) {
        return false;
    }
    const block_t *block = (const block_t *)start;
    uint32_t length = block_length(block);
    return length != 0 && length <= (uint32_t)(limit - start) - SUPERVISOR_HEADER_BYTES;
}

/* A head that is set but whose header cannot be read inside the arena. */
static bool head_unreadable(const block_t *head) {
    return head != NULL && !(in_arena(head) && block_fits((const char *)head, arena_top()));
}

static bool head_is_hole(const block_t *head) {
    return head != NULL && block_is_hole(head);
}

static heap_check_result_t check_low_side(void) {
    block_t *head = heap.heads[SIDE_LOW];
    if (head_unreadable(head)) {
        return broken("low_chain_packed", head, "the low head lies outside the arena");
    }
    char *end = low_end();
    block_t *below = NULL;
    char *cursor = arena_bottom();
    while (cursor < end) {
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
    if (below != head) {
        return broken("low_chain_packed", head,
                      "walking up from the bottom does not land on the low head");
    }
    return heap_sound;
}

static heap_check_result_t check_high_side(void) {
    char *top = arena_top();
    if (head_unreadable(heap.heads[SIDE_HIGH])) {
        return broken("high_chain_packed", heap.heads[SIDE_HIGH],
                      "the high head lies outside the arena");
    }
    for (char *cursor = high_start(); cursor < top;) {
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
        if (!heaprig_gc_alloc_possible()) {
            return broken("embedded_inside_gc_heap", block, "an embedded block outlived its VM");
        }
        /* The GC heap is the low head while a VM runs; embedded blocks lie in its data. */
        if (gc_heap == NULL || (char *)block < (char *)block_data(gc_heap) ||
            !block_fits((char *)block, block_end(gc_heap))) {
            return broken("embedded_inside_gc_heap", block,
                          "an embedded block lies outside the GC heap");
        }
        if (++count > SUPERVISOR_SLOTS) {
            return broken("block_has_handle", block, "more embedded blocks than handle slots");
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
        if (!in_arena(ptr) || !word_aligned(ptr) || !is_live_block(block_from_data(ptr))) {
            return broken("handle_points_at_block", &heap.slots[i],
                          "a live handle does not point at the data of a live block");
        }
        for (size_t j = i + 1; j < SUPERVISOR_SLOTS; j++) {
            if (heap.slots[j].ptr == ptr) {
                return broken("handles_distinct", &heap.slots[j], "two handles share a block");
            }
        }
    }
    return heap_sound;
}

static heap_check_result_t check_every_block_owned(char *from, char *to) {
    for (char *cursor = from; cursor < to; cursor += block_size(block_at(cursor))) {
        block_t *block = block_at(cursor);
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
    for (block_t *block = heaprig_embedded_root; result.invariant == NULL && block != NULL;
         block = block->next) {
        if (slot_holding(heap.slots, block_data(block)) == NULL) {
            result = broken("block_has_handle", block, "an embedded block is owned by no handle");
        }
    }
#if SUPERVISOR_MOVE_SUPPORT
    if (result.invariant == NULL && heap.slots_before_move != NULL) {
        result = broken("move_finished", NULL, "R12 lookups still active after the move");
    }
#endif
    return result;
}
