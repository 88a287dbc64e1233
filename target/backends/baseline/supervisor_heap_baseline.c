/*
 * The *baseline* backend (issue 6): our allocator (target/allocator/supervisor_heap.c, copied
 * when the benchmark was written) with its compaction and promotion replaced by the naive
 * algorithms of the original scheme, as the issue describes them:
 *   - compaction: full passes over the low side, bottom-up, each swapping every movable block
 *     with the hole right below it, until a pass changes nothing (O(n^2) block moves);
 *   - promotion: again and again, search the embedded list for its lowest block and place it
 *     (O(e^2) list walks).
 * Everything else (placement, freeing, lookup, the walker, the checker) is ours, and the results
 * (maps, moves, callbacks) are the same: the differential tests run it (harness/tests/
 * test_bench.py). It exists to be measured against (`make bench`); it is not a product.
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
 * long-lived GC blocks, header included, on the embedded list whose head is a GC root. After the
 * VM exits its heap is freed and supervisor_move_memory() compacts the low side and promotes the
 * embedded blocks out of the dead heap, lowest address first.
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
#include "heaprig_backend.h"

/* The rig's fault report (heaprig_backend.h), as in our allocator's supervisor_heap.h. */
#define supervisor_heap_assert(expr) \
    ((expr) ? (void)0 : heaprig_assert_failed(__FILE__, __LINE__, #expr))

#include <string.h>


/* ---- Block header ------------------------------------------------------------------------- */

/*
 * The header of every block.
 * - `next` links blocks of the same side, towards the arena end the side grows from:
 *   a low block's next is the block below it, a high block's next the block above it; the
 *   block at `bottom` (or `top`) has NULL. Embedded blocks link the embedded list instead, and
 *   `next` is the header's first word on purpose: it is the word the GC scans to keep the
 *   next embedded block alive.
 * - `length_and_flags` is the data length in bytes (a multiple of 4, never 0) with HOLE and
 *   MOVABLE in its two low bits. Use the accessors below, never the field.
 */
typedef struct _supervisor_allocation_node {
    struct _supervisor_allocation_node *next;
    uint32_t length_and_flags;
} block_t;

_Static_assert(sizeof(block_t) == SUPERVISOR_HEADER_BYTES, "the header is a link and a length word");

#define FLAG_HOLE 0x1u
#define FLAG_MOVABLE 0x2u
#define FLAG_MASK (FLAG_HOLE | FLAG_MOVABLE)
#define WORD_BYTES 4u
/* The smallest data length allocate_remaining_memory() will hand out (R6). */
#define REMAINING_MIN_LENGTH WORD_BYTES

/* ---- State -------------------------------------------------------------------------------- */

typedef struct {
    block_t *low_head;       /* newest low block, NULL when the low side is empty */
    block_t *high_head;      /* newest high block, NULL when the high side is empty */
    supervisor_allocation slots[SUPERVISOR_SLOTS];
#if SUPERVISOR_MOVE_SUPPORT
    /* Each slot's pointer when the current move began, for R12 lookups; NULL outside a move. */
    uint32_t **pointers_before_move;
#endif
    const char *misuse;
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

static inline void block_init(block_t *block, block_t *next, uint32_t length, bool movable) {
    block->next = next;
    block->length_and_flags = length | (movable ? FLAG_MOVABLE : 0u);
}

static inline char *arena_bottom(void) {
    return (char *)heaprig_heap_bottom();
}

static inline char *arena_top(void) {
    return (char *)heaprig_heap_top();
}

static inline char *low_end(void) {
    return heap.low_head != NULL ? block_end(heap.low_head) : arena_bottom();
}

static inline char *high_start(void) {
    return heap.high_head != NULL ? block_start(heap.high_head) : arena_top();
}

static inline uint32_t middle_size(void) {
    return (uint32_t)(high_start() - low_end());
}

static inline bool move_support(void) {
    return SUPERVISOR_MOVE_SUPPORT != 0;
}

/* ---- Caller errors ------------------------------------------------------------------------ */

/* Cheap misuse checks are always on; only debug builds keep the message for the rig to report. */
static void report_misuse(const char *message) {
#if HEAPRIG_DEBUG
    heap.misuse = message;
#else
    (void)message;
#endif
}

const char *supervisor_heap_take_misuse(void) {
    const char *message = heap.misuse;
    heap.misuse = NULL;
    return message;
}

/* ---- Handles ------------------------------------------------------------------------------ */

static supervisor_allocation *free_slot(void) {
    for (size_t i = 0; i < SUPERVISOR_SLOTS; i++) {
        if (heap.slots[i].ptr == NULL) {
            return &heap.slots[i];
        }
    }
    return NULL;
}

static supervisor_allocation *handle_of_block(block_t *block) {
    for (size_t i = 0; i < SUPERVISOR_SLOTS; i++) {
        if (heap.slots[i].ptr == block_data(block)) {
            return &heap.slots[i];
        }
    }
    return NULL;
}

static bool is_handle(const supervisor_allocation *allocation) {
    for (size_t i = 0; i < SUPERVISOR_SLOTS; i++) {
        if (allocation == &heap.slots[i]) {
            return true;
        }
    }
    return false;
}

/* ---- Placement (R3) ----------------------------------------------------------------------- */

/* Step 1/3: the first HOLE of exactly `length` on a side, searched from that side's head. */
static block_t *hole_to_block(bool high, uint32_t length, bool movable) {
    for (block_t *block = high ? heap.high_head : heap.low_head; block != NULL;
         block = block->next) {
        if (block_is_hole(block) && block_length(block) == length) {
            block_init(block, block->next, length, movable);
            return block;
        }
    }
    return NULL;
}

/*
 * Step 2: header + `length` carved from the free middle and pushed on a side, or NULL.
 * While a VM runs its GC heap is the low head and must stay so: freeing it at VM exit has to
 * return it, and the embedded blocks inside it, to the middle (§1.5). Space can open in the
 * middle during a run (a high block freed), but a low block pushed there would sit above the GC
 * heap, so low requests leave the middle alone until the VM exits; high ones may use it.
 */
static block_t *middle_to_block(bool high, uint32_t length, bool movable) {
    if (!high && heaprig_gc_alloc_possible()) {
        return NULL;
    }
    /* Subtract from the middle, never add to `length`: header + length could wrap. */
    if (middle_size() < SUPERVISOR_HEADER_BYTES || middle_size() - SUPERVISOR_HEADER_BYTES < length) {
        return NULL;
    }
    block_t *block;
    if (high) {
        block = block_at(high_start() - SUPERVISOR_HEADER_BYTES - length);
        block_init(block, heap.high_head, length, movable);
        heap.high_head = block;
    } else {
        block = block_at(low_end());
        block_init(block, heap.low_head, length, movable);
        heap.low_head = block;
    }
    return block;
}

/* Step 4: a long-lived GC block, header included, pushed on the embedded list. */
static block_t *gc_to_embedded_block(uint32_t length) {
    /* Saturated rather than wrapped: a hopeless request still reaches the GC, which collects. */
    size_t bytes = length > SIZE_MAX - SUPERVISOR_HEADER_BYTES ? SIZE_MAX
                                                                : SUPERVISOR_HEADER_BYTES + (size_t)length;
    block_t *block = heaprig_gc_alloc(bytes, true);
    if (block == NULL) {
        return NULL;
    }
    block_init(block, heaprig_embedded_root, length, true);
    heaprig_embedded_root = block;
    return block;
}

static block_t *place_block(uint32_t length, bool high, bool movable) {
    block_t *block = hole_to_block(high, length, movable);
    if (block == NULL) {
        block = middle_to_block(high, length, movable);
    }
    if (block == NULL) {
        block = hole_to_block(!high, length, movable);
    }
    if (block == NULL && movable && heaprig_gc_alloc_possible()) {
        block = gc_to_embedded_block(length);
    }
    return block;
}

/* ---- Public API: allocation --------------------------------------------------------------- */

supervisor_allocation *allocate_memory(uint32_t length, bool high, bool movable) {
    if (length == 0 || length % WORD_BYTES != 0) {
        return NULL; /* R1 */
    }
    if (high && movable) {
        report_misuse("allocate_memory: a movable allocation must be low (R2)");
        return NULL;
    }
    movable = movable && move_support(); /* R14 */
    supervisor_allocation *slot = free_slot();
    if (slot == NULL) {
        return NULL; /* R5: nothing has been carved yet */
    }
    block_t *block = place_block(length, high, movable);
    if (block == NULL) {
        return NULL;
    }
    slot->ptr = block_data(block);
    return slot;
}

supervisor_allocation *allocate_remaining_memory(void) {
    supervisor_allocation *slot = free_slot();
    /* R6: compare before subtracting, so an empty middle cannot wrap the length. */
    if (slot == NULL || middle_size() < SUPERVISOR_HEADER_BYTES + REMAINING_MIN_LENGTH) {
        return NULL;
    }
    block_t *block = middle_to_block(false, middle_size() - SUPERVISOR_HEADER_BYTES, false);
    if (block == NULL) {
        return NULL; /* a VM runs: the middle is not the low side's (see middle_to_block) */
    }
    slot->ptr = block_data(block);
    return slot;
}

size_t get_allocation_length(supervisor_allocation *allocation) {
    if (allocation == NULL || allocation->ptr == NULL) {
        return 0;
    }
    return block_length(block_from_data(allocation->ptr));
}

/* ---- Public API: freeing ------------------------------------------------------------------ */

/* R8: pop the head, then every hole below it; the space returns to the middle. */
static void low_head_to_middle(void) {
    do {
        heap.low_head = heap.low_head->next;
    } while (heap.low_head != NULL && block_is_hole(heap.low_head));
}

static void high_head_to_middle(void) {
    do {
        heap.high_head = heap.high_head->next;
    } while (heap.high_head != NULL && block_is_hole(heap.high_head));
}

/* R9: unlinks `block` if it is on the embedded list. */
static bool embedded_unlink(block_t *block) {
    for (block_t **link = &heaprig_embedded_root; *link != NULL; link = &(*link)->next) {
        if (*link == block) {
            *link = block->next;
            return true;
        }
    }
    return false;
}

static void block_to_hole(block_t *block) {
    block->length_and_flags = block_length(block) | FLAG_HOLE;
}

void free_memory(supervisor_allocation *allocation) {
    if (allocation == NULL || allocation->ptr == NULL) {
        return; /* R7 */
    }
    if (!is_handle(allocation)) {
        report_misuse("free_memory: not a handle of this heap");
        return;
    }
    block_t *block = block_from_data(allocation->ptr);
    allocation->ptr = NULL;
    if (block == heap.low_head) {
        low_head_to_middle();
    } else if (block == heap.high_head) {
        high_head_to_middle();
    } else if (embedded_unlink(block)) {
        heaprig_gc_free(block);
    } else {
        block_to_hole(block); /* R10 */
    }
}

/* ---- Public API: lookup ------------------------------------------------------------------- */

supervisor_allocation *allocation_from_ptr(void *ptr) {
    /* R11 allows returning a free slot for NULL; answering NULL is safer and also allowed. */
    if (ptr == NULL) {
        return NULL;
    }
#if SUPERVISOR_MOVE_SUPPORT
    if (heap.pointers_before_move != NULL) { /* R12 */
        for (size_t i = 0; i < SUPERVISOR_SLOTS; i++) {
            if (heap.pointers_before_move[i] == ptr) {
                return &heap.slots[i];
            }
        }
        return NULL;
    }
#endif
    for (size_t i = 0; i < SUPERVISOR_SLOTS; i++) {
        if (heap.slots[i].ptr == ptr) {
            return &heap.slots[i];
        }
    }
    return NULL;
}

/* ---- The move (§1.5) ---------------------------------------------------------------------- */

#if SUPERVISOR_MOVE_SUPPORT

/* Points the handle of the block that was at `from` at its copy at `to`. */
static void handle_follow_move(block_t *from, block_t *to) {
    supervisor_allocation *handle = handle_of_block(from);
    /* Every block is carved only once a slot is secured (R5), so a live block has a handle. */
    supervisor_heap_assert(handle != NULL);
    handle->ptr = block_data(to);
}

/*
 * [hole][block] -> [block][hole]: the block (header and data) slides down to the hole's start and
 * a hole of the same length is written right above it. Only the hole's header matters: its data
 * bytes are garbage, so a plain memmove of the block is enough. Returns the hole's new place.
 */
static block_t *swap_with_hole_below(block_t *hole, block_t *block) {
    uint32_t hole_length = block_length(hole);
    block_t *moved = hole;
    handle_follow_move(block, moved);
    memmove(moved, block, block_size(block)); /* its `next` is set again by the next pass */
    block_t *new_hole = block_at(block_end(moved));
    block_init(new_hole, moved, hole_length, false);
    block_to_hole(new_hole);
    return new_hole;
}

/*
 * One full pass over the low side, bottom-up: every movable block lying right above a hole is
 * swapped with it. Re-links each block to the one below it as it goes (swaps change who is
 * below whom). Returns whether anything moved. `end` is the low side's end, which swaps keep.
 */
static bool compaction_pass(char *end) {
    bool changed = false;
    block_t *below = NULL;
    for (char *cursor = arena_bottom(); cursor < end;) {
        block_t *block = block_at(cursor);
        block->next = below;
        if (below != NULL && block_is_hole(below) && !block_is_hole(block) &&
            block_is_movable(block)) {
            below = swap_with_hole_below(below, block);
            changed = true;
        } else {
            below = block;
        }
        cursor = block_end(below);
    }
    heap.low_head = below;
    return changed;
}

/* Step 2, compaction, the naive way: full passes until one changes nothing. */
static void compact_low_side(char *end) {
    while (compaction_pass(end)) {
    }
}

static bool lies_in_middle(const block_t *block) {
    return block_start(block) >= low_end() && block_end(block) <= high_start();
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
 * place it as allocate_memory(length, low, movable) would (exact low hole, else the middle), copy
 * it down; again until the list is empty. Blocks still on the list lie higher than the one being
 * placed, so neither its copy nor its header reaches them.
 */
static void promote_embedded_blocks(void) {
    while (heaprig_embedded_root != NULL) {
        block_t **link = lowest_embedded_link();
        block_t *from = *link;
        *link = from->next;
        uint32_t length = block_length(from);
        supervisor_heap_assert(lies_in_middle(from));
        block_t *to = hole_to_block(false, length, true);
        if (to == NULL) {
            to = middle_to_block(false, length, true);
        }
        /* `from` itself lies in the middle, so the middle always holds it. */
        supervisor_heap_assert(to != NULL);
        /* memmove: `to` may overlap `from`. The header written at `to` stays below from's data. */
        memmove(block_data(to), block_data(from), length);
        handle_follow_move(from, to);
    }
}


void supervisor_move_memory(void) {
    if (heaprig_gc_alloc_possible()) {
        report_misuse("supervisor_move_memory: called while the VM heap is alive");
        return;
    }
    uint32_t *pointers_before_move[SUPERVISOR_SLOTS];
    for (size_t i = 0; i < SUPERVISOR_SLOTS; i++) {
        pointers_before_move[i] = heap.slots[i].ptr;
    }
    /* Compaction only permutes blocks and holes, so the low side keeps its extent. */
    char *end = low_end();
    compact_low_side(end);
    if (heap.low_head != NULL && block_is_hole(heap.low_head)) {
        low_head_to_middle(); /* step 3 */
    }
    promote_embedded_blocks();
    /* Step 5: the rig runs every move callback, with R12 lookups of old pointers active. */
    heap.pointers_before_move = pointers_before_move;
    heaprig_allocations_moved();
    heap.pointers_before_move = NULL;
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
            region.allocation = handle_of_block(block);
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
            .allocation = handle_of_block(block),
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

static heap_check_result_t check_low_side(void) {
    if (heap.low_head != NULL && !(in_arena(heap.low_head) && block_fits((char *)heap.low_head, arena_top()))) {
        return broken("low_chain_packed", heap.low_head, "the low head lies outside the arena");
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
    if (below != heap.low_head) {
        return broken("low_chain_packed", heap.low_head,
                      "walking up from the bottom does not land on the low head");
    }
    return heap_sound;
}

static heap_check_result_t check_high_side(void) {
    if (heap.high_head != NULL && !(in_arena(heap.high_head) && block_fits((char *)heap.high_head, arena_top()))) {
        return broken("high_chain_packed", heap.high_head, "the high head lies outside the arena");
    }
    for (char *cursor = high_start(); cursor < arena_top();) {
        if (!block_fits(cursor, arena_top())) {
            return broken("high_chain_packed", cursor, "a high block's length runs past the top");
        }
        block_t *block = block_at(cursor);
        cursor += block_size(block);
        block_t *above = cursor < arena_top() ? block_at(cursor) : NULL;
        if (block->next != above) {
            return broken("high_chain_linked", block, "next is not the block right above");
        }
    }
    return heap_sound;
}

/* Is `block` a live (non-hole) block of the low side, the high side or the embedded list? */
static bool is_live_block(const block_t *block) {
    const char *start = (const char *)block;
    for (char *cursor = arena_bottom(); cursor < low_end(); cursor += block_size(block_at(cursor))) {
        if (cursor == start) {
            return !block_is_hole(block);
        }
    }
    for (char *cursor = high_start(); cursor < arena_top(); cursor += block_size(block_at(cursor))) {
        if (cursor == start) {
            return !block_is_hole(block);
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
    for (block_t *block = heaprig_embedded_root; block != NULL; block = block->next) {
        if (!heaprig_gc_alloc_possible()) {
            return broken("embedded_inside_gc_heap", block, "an embedded block outlived its VM");
        }
        /* The GC heap is the low head while a VM runs; embedded blocks lie in its data. */
        if (heap.low_head == NULL || (char *)block < (char *)block_data(heap.low_head) ||
            !block_fits((char *)block, block_end(heap.low_head))) {
            return broken("embedded_inside_gc_heap", block, "an embedded block lies outside the GC heap");
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
        if (!block_is_hole(block) && handle_of_block(block) == NULL) {
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
        result = broken("middle_non_negative", heap.low_head, "the low head overlaps the high head");
    }
    if (result.invariant == NULL && heap.low_head != NULL && block_is_hole(heap.low_head)) {
        result = broken("head_not_hole", heap.low_head, "the low head is a hole");
    }
    if (result.invariant == NULL && heap.high_head != NULL && block_is_hole(heap.high_head)) {
        result = broken("head_not_hole", heap.high_head, "the high head is a hole");
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
        if (handle_of_block(block) == NULL) {
            result = broken("block_has_handle", block, "an embedded block is owned by no handle");
        }
    }
#if SUPERVISOR_MOVE_SUPPORT
    if (result.invariant == NULL && heap.pointers_before_move != NULL) {
        result = broken("move_finished", NULL, "R12 lookups still active after the move");
    }
#endif
    return result;
}
