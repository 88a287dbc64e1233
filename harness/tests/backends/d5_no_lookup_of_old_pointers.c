/*
 * FIXTURE: SPEC D5 — allocation_from_ptr() does not answer for old pointers while the move
 * callbacks run (R12 missing), as when a client looks its pointer up after R12 ended: a pointer
 * client cannot find its moved block, keeps its stale pointer and writes through it into memory
 * that now belongs to someone else, or to nobody.
 * A test fixture, not an allocator to use: a copy of target/allocator/supervisor_heap.c with one
 * defect of the original scheme (SPEC §5) put back, so that the harness tests can show the rig's
 * backend-neutral detectors (target/interp/observe.c) name it. Every change is marked `DEFECT`.
 *
 * Changed: allocation_from_ptr() — the R12 lookup among the pointers from before the move is
 * gone (lines marked DEFECT).
 * Expected reports: scenarios/clients/r12_pointer_client_remap.yaml fails at its vm_exit with
 * callbacks `-> lost`; a stale write lands as `corruption` of the victim or as `stray`.
 */
/*
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
#include "supervisor_heap.h"

#include <string.h>

#include "gc_api.h"
#include "supervisor/port.h"

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
typedef struct block {
    struct block *next;
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
    supervisor_move_callback_t callback;
    void *context;
} move_callback_entry_t;

typedef struct {
    char *bottom;
    char *top;
    block_t *low_head;       /* newest low block, NULL when the low side is empty */
    block_t *high_head;      /* newest high block, NULL when the high side is empty */
    block_t *embedded_head;  /* GC root of the embedded list (SPEC §2) */
    supervisor_allocation slots[SUPERVISOR_SLOTS];
#if SUPERVISOR_MOVE_SUPPORT
    move_callback_entry_t callbacks[SUPERVISOR_SLOTS]; /* [0, callback_count) in use */
    size_t callback_count;
    /* Each slot's pointer when the current move began, for R12 lookups. */
    uint32_t *pointers_before_move[SUPERVISOR_SLOTS];
    bool moving;
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

static inline char *low_end(void) {
    return heap.low_head != NULL ? block_end(heap.low_head) : heap.bottom;
}

static inline char *high_start(void) {
    return heap.high_head != NULL ? block_start(heap.high_head) : heap.top;
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
    if (!high && gc_alloc_possible()) {
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
    block_t *block = gc_alloc(bytes, true);
    if (block == NULL) {
        return NULL;
    }
    block_init(block, heap.embedded_head, length, true);
    heap.embedded_head = block;
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
    if (block == NULL && movable && gc_alloc_possible()) {
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
    for (block_t **link = &heap.embedded_head; *link != NULL; link = &(*link)->next) {
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
        gc_free(block);
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
    /* DEFECT (D5): no R12 lookup of the pointers from before the move. */
    for (size_t i = 0; i < SUPERVISOR_SLOTS; i++) {
        if (heap.slots[i].ptr == ptr) {
            return &heap.slots[i];
        }
    }
    return NULL;
}

/* ---- Move callbacks ----------------------------------------------------------------------- */

#if SUPERVISOR_MOVE_SUPPORT
/* The table is kept packed in registration order, so callbacks run in the order clients
 * registered them, whatever was unregistered in between. */
bool supervisor_register_move_callback(supervisor_move_callback_t callback, void *context) {
    if (heap.callback_count == SUPERVISOR_SLOTS) {
        return false;
    }
    heap.callbacks[heap.callback_count++] = (move_callback_entry_t){callback, context};
    return true;
}

void supervisor_unregister_move_callback(supervisor_move_callback_t callback, void *context) {
    size_t kept = 0;
    for (size_t i = 0; i < heap.callback_count; i++) {
        if (heap.callbacks[i].callback != callback || heap.callbacks[i].context != context) {
            heap.callbacks[kept++] = heap.callbacks[i];
        }
    }
    heap.callback_count = kept;
}
#else
/* R14: nothing ever moves, so there is nothing to notify and no table to keep. */
bool supervisor_register_move_callback(supervisor_move_callback_t callback, void *context) {
    (void)callback;
    (void)context;
    return true;
}

void supervisor_unregister_move_callback(supervisor_move_callback_t callback, void *context) {
    (void)callback;
    (void)context;
}
#endif

void **supervisor_embedded_root(void) {
    return (void **)&heap.embedded_head;
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

static void reverse_words(uint32_t *first, uint32_t *last) {
    while (first < last) {
        last--;
        uint32_t word = *first;
        *first++ = *last;
        *last = word;
    }
}

/* [left_bytes][right_bytes] → [right_bytes][left_bytes] in place, both halves intact. */
static void rotate_down(char *start, uint32_t left_bytes, uint32_t right_bytes) {
    uint32_t *left = (uint32_t *)start;
    uint32_t *right = left + left_bytes / WORD_BYTES;
    uint32_t *end = right + right_bytes / WORD_BYTES;
    reverse_words(left, right);
    reverse_words(right, end);
    reverse_words(left, end);
}

/*
 * Step 2, compaction. Holes bubble up past movable blocks and stop at immovable ones, so within
 * each stretch between immovable blocks the movable blocks end up packed at its bottom in their
 * old order, and its holes above them in their old order and sizes. One pass bottom-up does it:
 * `hole_run` is the start of the holes gathered right below the block being looked at; a movable
 * block meeting a run is rotated below it, carrying the run's hole headers up with it intact.
 */
static void compact_low_side(char *end) {
    char *hole_run = NULL;
    for (char *cursor = heap.bottom; cursor < end;) {
        block_t *block = block_at(cursor);
        uint32_t size = block_size(block);
        if (block_is_hole(block)) {
            if (hole_run == NULL) {
                hole_run = cursor;
            }
        } else if (!block_is_movable(block)) {
            hole_run = NULL;
        } else if (hole_run != NULL) {
            handle_follow_move(block, block_at(hole_run));
            rotate_down(hole_run, (uint32_t)(cursor - hole_run), size);
            hole_run += size;
        }
        cursor += size;
    }
}

/* After blocks moved, every low `next` (and the low head) is re-derived from the packed layout.
 * `end` is the low side's end from before the move: the low head pointer itself is stale now. */
static void relink_low_side(char *end) {
    block_t *below = NULL;
    for (char *cursor = heap.bottom; cursor < end; cursor += block_size(block_at(cursor))) {
        block_at(cursor)->next = below;
        below = block_at(cursor);
    }
    heap.low_head = below;
}

static block_t *merge_by_address(block_t *a, block_t *b) {
    block_t *merged = NULL;
    block_t **tail = &merged;
    while (a != NULL && b != NULL) {
        block_t **lower = a < b ? &a : &b;
        *tail = *lower;
        tail = &(*lower)->next;
        *lower = (*lower)->next;
    }
    *tail = a != NULL ? a : b;
    return merged;
}

/* Merge sort of a block list by address: O(n log n), no allocation. */
static block_t *sort_by_address(block_t *list) {
    if (list == NULL || list->next == NULL) {
        return list;
    }
    block_t *slow = list;
    for (block_t *fast = list->next; fast != NULL && fast->next != NULL; fast = fast->next->next) {
        slow = slow->next;
    }
    block_t *second = slow->next;
    slow->next = NULL;
    return merge_by_address(sort_by_address(list), sort_by_address(second));
}

static bool lies_in_middle(const block_t *block) {
    return block_start(block) >= low_end() && block_end(block) <= high_start();
}

/*
 * Step 4, promotion. The dead GC heap is free middle now, so each embedded block lies in the
 * middle. Lowest address first, each is placed as allocate_memory(length, low, movable) would
 * place it (exact low hole, else the middle) and copied down: its new place never reaches above
 * its old one, and every block not yet moved lies higher still.
 */
static void promote_embedded_blocks(void) {
    block_t *embedded = sort_by_address(heap.embedded_head);
    heap.embedded_head = NULL;
    while (embedded != NULL) {
        block_t *from = embedded;
        embedded = from->next;
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

/* Step 5: every registered callback once, with R12 lookups of old pointers active. */
static void notify_move_callbacks(void) {
    heap.moving = true;
    for (size_t i = 0; i < heap.callback_count; i++) {
        heap.callbacks[i].callback(heap.callbacks[i].context);
    }
    heap.moving = false;
}

void supervisor_move_memory(void) {
    if (gc_alloc_possible()) {
        report_misuse("supervisor_move_memory: called while the VM heap is alive");
        return;
    }
    for (size_t i = 0; i < SUPERVISOR_SLOTS; i++) {
        heap.pointers_before_move[i] = heap.slots[i].ptr;
    }
    /* Compaction only permutes blocks and holes, so the low side keeps its extent. */
    char *end = low_end();
    compact_low_side(end);
    relink_low_side(end);
    if (heap.low_head != NULL && block_is_hole(heap.low_head)) {
        low_head_to_middle(); /* step 3 */
    }
    promote_embedded_blocks();
    notify_move_callbacks();
}

#else

void supervisor_move_memory(void) {
    /* R14: without move support nothing is ever embedded or movable. */
}

#endif

/* ---- Initialisation ----------------------------------------------------------------------- */

void supervisor_heap_init(void) {
    memset(&heap, 0, sizeof(heap));
    heap.bottom = (char *)port_heap_get_bottom();
    heap.top = (char *)port_heap_get_top();
}

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
    visit_side(heap.bottom, low_end(), false, visit, context);
    heap_region_t middle = {
        .kind = REGION_FREE_MIDDLE, .start = low_end(), .length = middle_size()};
    visit(&middle, context);
    visit_side(high_start(), heap.top, true, visit, context);
    for (block_t *block = heap.embedded_head; block != NULL; block = block->next) {
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
    return (const char *)address >= heap.bottom && (const char *)address <= heap.top;
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
    if (heap.low_head != NULL && !(in_arena(heap.low_head) && block_fits((char *)heap.low_head, heap.top))) {
        return broken("low_chain_packed", heap.low_head, "the low head lies outside the arena");
    }
    char *end = low_end();
    block_t *below = NULL;
    char *cursor = heap.bottom;
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
    if (heap.high_head != NULL && !(in_arena(heap.high_head) && block_fits((char *)heap.high_head, heap.top))) {
        return broken("high_chain_packed", heap.high_head, "the high head lies outside the arena");
    }
    for (char *cursor = high_start(); cursor < heap.top;) {
        if (!block_fits(cursor, heap.top)) {
            return broken("high_chain_packed", cursor, "a high block's length runs past the top");
        }
        block_t *block = block_at(cursor);
        cursor += block_size(block);
        block_t *above = cursor < heap.top ? block_at(cursor) : NULL;
        if (block->next != above) {
            return broken("high_chain_linked", block, "next is not the block right above");
        }
    }
    return heap_sound;
}

/* Is `block` a live (non-hole) block of the low side, the high side or the embedded list? */
static bool is_live_block(const block_t *block) {
    const char *start = (const char *)block;
    for (char *cursor = heap.bottom; cursor < low_end(); cursor += block_size(block_at(cursor))) {
        if (cursor == start) {
            return !block_is_hole(block);
        }
    }
    for (char *cursor = high_start(); cursor < heap.top; cursor += block_size(block_at(cursor))) {
        if (cursor == start) {
            return !block_is_hole(block);
        }
    }
    for (block_t *embedded = heap.embedded_head; embedded != NULL; embedded = embedded->next) {
        if (embedded == block) {
            return true;
        }
    }
    return false;
}

static heap_check_result_t check_embedded_list(void) {
    size_t count = 0;
    for (block_t *block = heap.embedded_head; block != NULL; block = block->next) {
        if (!gc_alloc_possible()) {
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
        result = check_every_block_owned(heap.bottom, low_end());
    }
    if (result.invariant == NULL) {
        result = check_every_block_owned(high_start(), heap.top);
    }
    for (block_t *block = heap.embedded_head; result.invariant == NULL && block != NULL;
         block = block->next) {
        if (handle_of_block(block) == NULL) {
            result = broken("block_has_handle", block, "an embedded block is owned by no handle");
        }
    }
#if SUPERVISOR_MOVE_SUPPORT
    if (result.invariant == NULL && heap.moving) {
        result = broken("move_finished", NULL, "R12 lookups still active after the move");
    }
#endif
    return result;
}
