/*
 * Backend-neutral observation (observe.h): the layout of any backend of this family, derived
 * from handles, lengths, requests and rig-owned memory, and the detectors that name what a
 * defective backend did.
 *
 *   bottom                                                                              top
 *   |guard| low blocks, holes ... | free middle (zero) ........ | holes, high blocks |guard|
 *         ^ sides: from handles         ^ low_end                 ^ high_start
 *
 * Sides. A block keeps the side it was given when the rig first saw it at its place; a block
 * that is new or moved gets one from where it lies: inside the GC heap's data while a VM runs →
 * embedded; below a block already on the low side → low (a hole of the low side reused, whatever
 * side was asked for: R3 takes the other side's holes); above a block already on the high side
 * → high; otherwise it was carved from the free middle (or compacted or promoted at a VM exit,
 * which is low) on the side the rig asked for: the stack high, the GC heap low, a client as its
 * `alloc` said. low_end is then the end of the highest low block, high_start the start of the
 * lowest high one.
 *
 * Holes. A side's live blocks leave gaps between them; in a sound heap each gap is tiled by holes,
 * read with the family's header format (a length word with the HOLE flag). Holes above the low
 * head or below the high head do not exist (R8): that space is the free middle.
 *
 * Detectors, in the order they run (the first finding ends the run, exit 3):
 *   guard     a guard word just outside the arena changed (SPEC D4: a header written past it);
 *   overlap   two live blocks overlap (D4: a header written over another block, its wrapped
 *             length running on past the arena);
 *   guard     a live block reaches outside the arena;
 *   stranded  a block that was embedded is still where its GC heap was after the VM exited: it
 *             was never promoted and the next VM run will overwrite it (D2);
 *   orphan    carved space that no handle and no hole explains: a header without the HOLE flag
 *             in a gap between live blocks, a header written into the free middle, or an
 *             embedded-list node no handle owns (D3: a block carved, NULL returned);
 *   stray     a word of the free middle changed and no block explains it: a write through a
 *             stale or wild pointer (D5).
 * Data patterns (clients, VM objects) are checked after these, by the interpreter: a stale write
 * into someone else's block is a `corruption` naming the victim.
 */
#include "interp/observe.h"

#include <string.h>

#include "clients/clients.h"
#include "interp/report.h"
#include "platform.h"
#include "rig/builds.h"
#include "supervisor/port.h"
#include "heaprig_backend.h"
#include "vm/arena.h"
#include "vm/vm.h"

/* The family's length word: the data length, flags in its two low bits. */
#define FAMILY_HOLE_FLAG 0x1u
#define FAMILY_FLAG_MASK 0x3u
/* What the free middle holds: the arena's initial pattern (arena_configure() zero-fills). */
#define FREE_WORD 0u
/* Guard words: not zero, not a pattern word (top byte 0xA5), not a plausible RAM address. */
#define GUARD_WORD 0x6A7D0000u
#define WORD_BYTES 4u
/* A free middle up to this size is compared word by word after every event (check_middle). */
#define OBSERVE_FULL_SCAN_BYTES 4096u

/* Owner slots: clients 0..63, then the VM's stack and GC heap. */
#define OWNER_INDEX_STACK HEAPRIG_MAX_CLIENTS
#define OWNER_INDEX_HEAP (HEAPRIG_MAX_CLIENTS + 1u)

/* What a client's latest `alloc` asked for. */
typedef struct {
    bool high;
    bool movable;
} request_t;

/* A block as the rig last saw it, to keep its side while it stays where it is. */
typedef struct {
    const supervisor_allocation *handle;
    uintptr_t start;
    uint32_t length;
    observed_side_t side;
    bool known;
} tracked_t;

typedef struct {
    tracked_t tracked[OBSERVE_OWNERS];
    request_t requests[HEAPRIG_MAX_CLIENTS];
    /* Clients that asked for an allocation and may hold one: the others are not looked at (a
     * layout is derived several times an event). */
    uint64_t asked;
    /* What the event being run may write into the free middle (check_middle). */
    struct {
        uint32_t high_length; /* a high `alloc` of this length: where its header would go */
        bool stale_write;     /* a `write` by a pointer client that lost its block */
    } pending;
    /* The free middle as of the end of the last event: it holds FREE_WORD only. */
    uintptr_t low_end;
    uintptr_t high_start;
    observed_layout_t layout;
} observe_t;

static observe_t observe;

/* ---- Where things are --------------------------------------------------------------------- */

static uintptr_t arena_bottom(void) {
    return (uintptr_t)port_heap_get_bottom();
}

static uintptr_t arena_top(void) {
    return (uintptr_t)port_heap_get_top();
}

/* start + header + length, saturated: a wrapped length (D4) must not look small. */
static uintptr_t span_end(uintptr_t start, uint32_t length) {
    uintptr_t room = UINTPTR_MAX - start; /* header + length may wrap a 32-bit uintptr_t too */
    if (room < OBSERVE_HEADER_BYTES || room - OBSERVE_HEADER_BYTES < length) {
        return UINTPTR_MAX;
    }
    return start + OBSERVE_HEADER_BYTES + length;
}

uintptr_t observe_block_end(const observed_block_t *block) {
    return span_end(block->start, block->length);
}

static uint32_t word_at(uintptr_t address) {
    return *(const uint32_t *)address;
}

/* The family header's length word (after the link pointer), flags masked off. */
static uint32_t header_length(uintptr_t header) {
    return word_at(header + sizeof(void *)) & ~FAMILY_FLAG_MASK;
}

static bool header_is_hole(uintptr_t header) {
    return (word_at(header + sizeof(void *)) & FAMILY_HOLE_FLAG) != 0;
}

/* A readable header at `at` whose block has a length > 0 and ends by `limit`. */
static bool header_fits(uintptr_t at, uintptr_t limit, uint32_t *length) {
    if (at % WORD_BYTES != 0 || at < arena_bottom() || limit > arena_top() || at >= limit ||
        limit - at < OBSERVE_HEADER_BYTES) {
        return false;
    }
    *length = header_length(at);
    return *length != 0 && *length <= limit - at - OBSERVE_HEADER_BYTES;
}

bool observe_hole_at(uintptr_t at, uintptr_t limit, uint32_t *length) {
    return header_fits(at, limit, length) && header_is_hole(at);
}

/* The embedded-list root: a word the rig owns (SPEC §2), the GC's root of the list. */
static uintptr_t embedded_root(void) {
    return (uintptr_t)heaprig_embedded_root;
}

/* ---- Owners ------------------------------------------------------------------------------- */

static owner_t owner_at(uint32_t index) {
    if (index == OWNER_INDEX_STACK) {
        return (owner_t){OWNER_STACK, 0};
    }
    if (index == OWNER_INDEX_HEAP) {
        return (owner_t){OWNER_HEAP, 0};
    }
    return (owner_t){OWNER_CLIENT, index};
}

static const supervisor_allocation *owner_handle(uint32_t index) {
    if (index == OWNER_INDEX_STACK) {
        return vm_stack_allocation();
    }
    if (index == OWNER_INDEX_HEAP) {
        return vm_heap_allocation();
    }
    return client_issued_handle(index);
}

static bool owner_asked_high(uint32_t index) {
    if (index == OWNER_INDEX_STACK) {
        return true; /* the C stack is a high block (SPEC §2) */
    }
    if (index == OWNER_INDEX_HEAP) {
        return false; /* allocate_remaining_memory() is low */
    }
    return observe.requests[index].high;
}

static bool owner_movable(uint32_t index) {
    return index < HEAPRIG_MAX_CLIENTS && observe.requests[index].movable &&
           heaprig_active_build()->move_support;
}

/* ---- The layout --------------------------------------------------------------------------- */

/* [start, end) inside the GC heap's data, while a VM runs. */
static bool inside_gc_heap(uintptr_t start, uintptr_t end) {
    supervisor_allocation *heap = vm_heap_allocation();
    if (heap == NULL || heap->ptr == NULL) {
        return false;
    }
    uintptr_t data = (uintptr_t)heap->ptr;
    return start >= data && end <= span_end(data, (uint32_t)get_allocation_length(heap)) -
                                          OBSERVE_HEADER_BYTES;
}

/* The owners that may hold a block now: the VM's stack and heap, and the clients that asked for
 * one and have not been seen without it since. In owner order. */
typedef struct {
    uint32_t index[OBSERVE_OWNERS];
    uint32_t count;
} candidates_t;

static void gather_candidates(candidates_t *candidates) {
    candidates->count = 0;
    for (uint64_t asked = observe.asked; asked != 0; asked &= asked - 1) {
        candidates->index[candidates->count++] = (uint32_t)__builtin_ctzll(asked);
    }
    candidates->index[candidates->count++] = OWNER_INDEX_STACK;
    candidates->index[candidates->count++] = OWNER_INDEX_HEAP;
}

/* Does a block already placed on `side` (not new in this refresh) lie wholly above (`above`) or
 * below [start, end)? A block below the low head is on the low side, one above the high head
 * on the high side, whichever side was asked for (R3 takes the other side's holes). */
static bool placed_block_beyond(const candidates_t *candidates, observed_side_t side, bool above,
                                uintptr_t start, uintptr_t end, const bool *fresh) {
    for (uint32_t i = 0; i < candidates->count; i++) {
        uint32_t index = candidates->index[i];
        const tracked_t *other = &observe.tracked[index];
        if (!other->known || fresh[index] || other->side != side) {
            continue;
        }
        if (above ? other->start >= end : span_end(other->start, other->length) <= start) {
            return true;
        }
    }
    return false;
}

static observed_side_t side_of_new_block(const candidates_t *candidates, uint32_t index,
                                         const bool *fresh) {
    const tracked_t *tracked = &observe.tracked[index];
    uintptr_t start = tracked->start;
    uintptr_t end = span_end(start, tracked->length);
    if (inside_gc_heap(start, end)) {
        return OBSERVED_EMBEDDED;
    }
    if (placed_block_beyond(candidates, OBSERVED_LOW, true, start, end, fresh)) {
        return OBSERVED_LOW;
    }
    if (placed_block_beyond(candidates, OBSERVED_HIGH, false, start, end, fresh)) {
        return OBSERVED_HIGH;
    }
    /* Carved from the middle (or compacted, promoted: low) on the side asked for. */
    return owner_asked_high(index) ? OBSERVED_HIGH : OBSERVED_LOW;
}

/* The owner's handle now; `fresh` when its block is new or moved (its side is then unknown). */
static bool refresh_owner(uint32_t index, bool *fresh) {
    tracked_t *tracked = &observe.tracked[index];
    const supervisor_allocation *handle = owner_handle(index);
    *fresh = false;
    if (handle == NULL || handle->ptr == NULL) {
        tracked->known = false;
        if (index < HEAPRIG_MAX_CLIENTS) {
            observe.asked &= ~((uint64_t)1 << index);
        }
        return false;
    }
    uintptr_t start = (uintptr_t)handle->ptr - OBSERVE_HEADER_BYTES;
    /* The API takes a non-const handle; get_allocation_length() only reads it. */
    uint32_t length = (uint32_t)get_allocation_length((supervisor_allocation *)handle);
    if (!tracked->known || tracked->handle != handle || tracked->start != start ||
        tracked->length != length) {
        *tracked = (tracked_t){handle, start, length, OBSERVED_LOW, true};
        *fresh = true;
    } else if (tracked->side == OBSERVED_EMBEDDED &&
               !inside_gc_heap(start, span_end(start, length))) {
        tracked->side = OBSERVED_STRANDED;
    }
    return true;
}

static void layout_add(observed_layout_t *layout, uint32_t index) {
    const tracked_t *tracked = &observe.tracked[index];
    observed_block_t block = {
        .owner = owner_at(index),
        .handle = tracked->handle,
        .start = tracked->start,
        .length = tracked->length,
        .side = tracked->side,
        .movable = owner_movable(index),
    };
    /* Insertion by start: a few dozen blocks at most. */
    uint32_t at = layout->count++;
    while (at > 0 && layout->blocks[at - 1].start > block.start) {
        layout->blocks[at] = layout->blocks[at - 1];
        at--;
    }
    layout->blocks[at] = block;
    if (block.side == OBSERVED_LOW && observe_block_end(&block) > layout->low_end) {
        layout->low_end = observe_block_end(&block);
    }
    if (block.side == OBSERVED_HIGH && block.start < layout->high_start) {
        layout->high_start = block.start;
    }
}

const observed_layout_t *observe_layout(void) {
    observed_layout_t *layout = &observe.layout;
    candidates_t candidates;
    bool live[OBSERVE_OWNERS];
    bool fresh[OBSERVE_OWNERS];
    gather_candidates(&candidates);
    for (uint32_t i = 0; i < candidates.count; i++) {
        uint32_t index = candidates.index[i];
        live[index] = refresh_owner(index, &fresh[index]);
    }
    /* New blocks get their side from the blocks placed before this refresh. */
    for (uint32_t i = 0; i < candidates.count; i++) {
        uint32_t index = candidates.index[i];
        if (live[index] && fresh[index]) {
            observe.tracked[index].side = side_of_new_block(&candidates, index, fresh);
        }
    }
    layout->count = 0;
    layout->low_end = arena_bottom();
    layout->high_start = arena_top();
    for (uint32_t i = 0; i < candidates.count; i++) {
        if (live[candidates.index[i]]) {
            layout_add(layout, candidates.index[i]);
        }
    }
    return layout;
}

bool observe_block_of(const supervisor_allocation *handle, observed_block_t *block) {
    const observed_layout_t *layout = observe_layout();
    for (uint32_t i = 0; handle != NULL && i < layout->count; i++) {
        if (layout->blocks[i].handle == handle) {
            *block = layout->blocks[i];
            return true;
        }
    }
    return false;
}

/* ---- Findings: each ends the run ---------------------------------------------------------- */

static void report_offset(const char *key, uintptr_t address) {
    if (address >= arena_bottom() && address <= arena_top()) {
        report_u32(key, arena_offset((const void *)address));
    } else {
        report_null(key);
    }
}

/* A finding's line starts after a map of the layout as observed, so that a report can show
 * where the finding lies (the line after it ends the run). */
static void finding_begin(const char *op, uint32_t event) {
    map_report(event);
    report_begin(op);
    report_u32("ev", event);
}

static noreturn void finding_end(void) {
    report_end();
    interp_heap_broken();
}

static noreturn void report_guard_word(uint32_t event, const char *edge, uint32_t distance,
                                       uint32_t found) {
    finding_begin("guard", event);
    report_string("edge", edge);
    report_u32("distance", distance);
    report_u32("expected", GUARD_WORD);
    report_u32("found", found);
    finding_end();
}

static noreturn void report_block_outside(uint32_t event, const observed_block_t *block) {
    finding_begin("guard", event);
    report_string("edge", block->start < arena_bottom() ? "bottom" : "top");
    map_report_owner("owner", block->owner);
    report_offset("at", block->start);
    report_u32("len", block->length);
    finding_end();
}

static noreturn void report_overlap(uint32_t event, const observed_block_t *block,
                                    const observed_block_t *other) {
    finding_begin("overlap", event);
    map_report_owner("owner", block->owner);
    report_offset("at", block->start);
    report_u32("len", block->length);
    map_report_owner("other", other->owner);
    report_offset("other_at", other->start);
    report_u32("other_len", other->length);
    finding_end();
}

static noreturn void report_stranded(uint32_t event, const observed_block_t *block) {
    finding_begin("stranded", event);
    map_report_owner("owner", block->owner);
    report_offset("at", block->start);
    report_u32("len", block->length);
    finding_end();
}

/* `len` is the data length its header claims, or null when no sane header is there. */
static noreturn void report_orphan(uint32_t event, const char *side, uintptr_t at,
                                   const uint32_t *length) {
    finding_begin("orphan", event);
    report_string("side", side);
    report_offset("at", at);
    if (length != NULL) {
        report_u32("len", *length);
    } else {
        report_null("len");
    }
    finding_end();
}

static noreturn void report_stray(uint32_t event, uintptr_t at) {
    finding_begin("stray", event);
    report_offset("at", at);
    report_u32("found", word_at(at));
    finding_end();
}

/* ---- Detectors ---------------------------------------------------------------------------- */

static uint32_t *guard_word(bool above, uint32_t distance) {
    uint32_t *edge = above ? port_heap_get_top() : port_heap_get_bottom() - 1;
    return above ? edge + distance : edge - distance;
}

static void check_guards(uint32_t event) {
    for (uint32_t i = 0; i < ARENA_GUARD_WORDS; i++) {
        if (*guard_word(false, i) != GUARD_WORD) {
            report_guard_word(event, "bottom", i * WORD_BYTES, *guard_word(false, i));
        }
        if (*guard_word(true, i) != GUARD_WORD) {
            report_guard_word(event, "top", i * WORD_BYTES, *guard_word(true, i));
        }
    }
}

static void check_blocks_inside_arena(uint32_t event, const observed_layout_t *layout) {
    for (uint32_t i = 0; i < layout->count; i++) {
        const observed_block_t *block = &layout->blocks[i];
        if (block->start < arena_bottom() || observe_block_end(block) > arena_top()) {
            report_block_outside(event, block);
        }
    }
}

/* Blocks of one group (embedded, or all others) must not overlap one another. Embedded blocks
 * lie inside the GC heap block by definition, so the two groups are checked apart. */
static void check_overlaps(uint32_t event, const observed_layout_t *layout, bool embedded) {
    const observed_block_t *reaching = NULL; /* the block reaching furthest so far */
    for (uint32_t i = 0; i < layout->count; i++) {
        const observed_block_t *block = &layout->blocks[i];
        if ((block->side == OBSERVED_EMBEDDED) != embedded) {
            continue;
        }
        if (reaching != NULL && block->start < observe_block_end(reaching)) {
            report_overlap(event, block, reaching);
        }
        if (reaching == NULL || observe_block_end(block) > observe_block_end(reaching)) {
            reaching = block;
        }
    }
}

static void check_stranded(uint32_t event, const observed_layout_t *layout) {
    for (uint32_t i = 0; i < layout->count; i++) {
        if (layout->blocks[i].side == OBSERVED_STRANDED) {
            report_stranded(event, &layout->blocks[i]);
        }
    }
}

/* [from, to) between two live blocks of a side must be holes, end to end. */
static void check_gap(uint32_t event, const char *side, uintptr_t from, uintptr_t to) {
    while (from < to) {
        uint32_t length;
        if (!header_fits(from, to, &length)) {
            report_orphan(event, side, from, NULL);
        }
        if (!header_is_hole(from)) {
            report_orphan(event, side, from, &length);
        }
        from = span_end(from, length);
    }
}

static void check_sides_tiled(uint32_t event, const observed_layout_t *layout) {
    uintptr_t cursor = arena_bottom();
    for (uint32_t i = 0; i < layout->count; i++) {
        const observed_block_t *block = &layout->blocks[i];
        if (block->side == OBSERVED_LOW) {
            check_gap(event, "low", cursor, block->start);
            cursor = observe_block_end(block);
        }
    }
    cursor = layout->high_start;
    for (uint32_t i = 0; i < layout->count; i++) {
        const observed_block_t *block = &layout->blocks[i];
        if (block->side == OBSERVED_HIGH) {
            check_gap(event, "high", cursor, block->start);
            cursor = observe_block_end(block);
        }
    }
    check_gap(event, "high", cursor, arena_top());
}

/* A written word found in [from, to) of the free middle [low_end, high_start): a header carved
 * there (its link word may be NULL, so the word may be its length word) or a stray write. */
static noreturn void report_middle_write(uint32_t event, uintptr_t word,
                                         const observed_layout_t *layout) {
    uintptr_t candidates[] = {word, word - sizeof(void *)};
    for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
        uintptr_t at = candidates[i];
        uint32_t length;
        if (at >= layout->low_end && header_fits(at, layout->high_start, &length)) {
            const char *side = at == layout->low_end ? "low"
                               : span_end(at, length) == layout->high_start ? "high"
                                                                             : "middle";
            report_orphan(event, side, at, &length);
        }
    }
    report_stray(event, word);
}

/* The first word in [from, to) that is not FREE_WORD, or `to`. ORs a run of words before looking
 * at any one of them: the free middle can be most of a large arena. */
/* Words ORed together in one step of the scan (the four written out below). */
#define SCAN_RUN_WORDS 4
_Static_assert(HEAPRIG_MAX_CLIENTS <= 64u, "observe.asked has a bit per client");
_Static_assert(FREE_WORD == 0u, "the scan ORs words: the free pattern must be zero");

static uintptr_t first_written_word(uintptr_t from, uintptr_t to) {
    const uint32_t *word = (const uint32_t *)from;
    const uint32_t *end = (const uint32_t *)to;
    while (end - word >= SCAN_RUN_WORDS) {
        if ((word[0] | word[1] | word[2] | word[3]) != FREE_WORD) {
            break;
        }
        word += SCAN_RUN_WORDS;
    }
    for (; word < end; word++) {
        if (*word != FREE_WORD) {
            return (uintptr_t)word;
        }
    }
    return to;
}

/* Looks at [from, to) clipped to [lowest, highest): a written word is a finding. */
static void check_free_words(uint32_t event, const observed_layout_t *layout, uintptr_t from,
                             uintptr_t to, uintptr_t lowest, uintptr_t highest) {
    from = from > lowest ? from : lowest;
    to = to < highest ? to : highest;
    if (from < to) {
        uintptr_t written = first_written_word(from, to);
        if (written < to) {
            report_middle_write(event, written, layout);
        }
    }
}

/*
 * The part of the middle that was middle already before the event held FREE_WORD then. All of it
 * is compared when it is small (OBSERVE_FULL_SCAN_BYTES), and after a `write` by a pointer client
 * that lost its block (its stale pointer may hit anything). A larger middle has only the places
 * checked where a backend carves from it: a header at its low end, and for a high `alloc` of
 * LENGTH, a header LENGTH + header bytes below its high end.
 */
static void check_middle(uint32_t event, const observed_layout_t *layout) {
    uintptr_t from = layout->low_end > observe.low_end ? layout->low_end : observe.low_end;
    uintptr_t to = layout->high_start < observe.high_start ? layout->high_start
                                                            : observe.high_start;
    if (from >= to) {
        return;
    }
    if (to - from <= OBSERVE_FULL_SCAN_BYTES || observe.pending.stale_write) {
        check_free_words(event, layout, from, to, from, to);
        return;
    }
    check_free_words(event, layout, observe.low_end, span_end(observe.low_end, 0), from, to);
    /* Only a length R1 accepts carves a header, and only one that fits below the high end: the
     * request may be any 32-bit number (e.g. 0xFFFFFFFF, odd and wrapping when added to), so the
     * room is compared by subtracting. Otherwise the site would be an unaligned word reaching
     * into the high block. */
    uint32_t length = observe.pending.high_length;
    uintptr_t room = observe.high_start - arena_bottom();
    if (length != 0 && length % WORD_BYTES == 0 && room >= OBSERVE_HEADER_BYTES &&
        room - OBSERVE_HEADER_BYTES >= length) {
        uintptr_t site = observe.high_start - OBSERVE_HEADER_BYTES - length;
        check_free_words(event, layout, site, span_end(site, 0), from, to);
    }
}

/* Every node of the embedded list is the header of a live embedded block. A node no handle owns
 * is reported before its link is followed: it may not even be memory. */
static void check_embedded_list(uint32_t event, const observed_layout_t *layout) {
    if (!vm_running()) {
        return;
    }
    uint32_t visited = 0;
    for (uintptr_t node = embedded_root(); node != 0; node = *(const uintptr_t *)node) {
        bool owned = false;
        for (uint32_t i = 0; i < layout->count && !owned; i++) {
            owned = layout->blocks[i].side == OBSERVED_EMBEDDED && layout->blocks[i].start == node;
        }
        if (!owned || ++visited > OBSERVE_OWNERS) {
            uint32_t length;
            bool readable = inside_gc_heap(node, span_end(node, 0)) &&
                            header_fits(node, arena_top(), &length);
            report_orphan(event, "embedded", node, readable ? &length : NULL);
        }
    }
}

/* ---- The event cycle ---------------------------------------------------------------------- */

void observe_reset(void) {
    memset(&observe, 0, sizeof(observe));
    observe.low_end = arena_bottom();
    observe.high_start = arena_top();
    for (uint32_t i = 0; i < ARENA_GUARD_WORDS; i++) {
        *guard_word(false, i) = GUARD_WORD;
        *guard_word(true, i) = GUARD_WORD;
    }
}

/* A client id token (checked by the event itself; here only trusted if it is one). */
static bool client_token(const char *token, uint32_t *client) {
    uint32_t value = 0;
    if (*token == '\0') {
        return false;
    }
    for (; *token != '\0'; token++) {
        if (*token < '0' || *token > '9' || value >= HEAPRIG_MAX_CLIENTS) {
            return false;
        }
        value = value * 10u + (uint32_t)(*token - '0');
    }
    *client = value;
    return value < HEAPRIG_MAX_CLIENTS;
}

/* `alloc ID LENGTH SIDE MOVABLE KIND`, `alloc_remaining ID` (PROTOCOL.md). */
#define ALLOC_ARGUMENTS 5u
#define ALLOC_LENGTH 1u
#define ALLOC_SIDE 2u
#define ALLOC_MOVABLE 3u

/* A length token, 0 unless it is a number below 2^32 (the event checks it properly). */
static uint32_t length_token(const char *token) {
    uint32_t value = 0;
    for (; *token >= '0' && *token <= '9'; token++) {
        uint32_t digit = (uint32_t)(*token - '0');
        if (value > (UINT32_MAX - digit) / 10u) {
            return 0;
        }
        value = value * 10u + digit;
    }
    return *token == '\0' ? value : 0;
}

void observe_before_event(const event_t *event) {
    uint32_t client;
    observe.pending.high_length = 0;
    observe.pending.stale_write = false;
    if (event->argument_count == 0 || !client_token(event->arguments[0], &client)) {
        return;
    }
    if (reader_token_is(event->name, "alloc") || reader_token_is(event->name, "alloc_remaining")) {
        observe.asked |= (uint64_t)1 << client;
    }
    if (reader_token_is(event->name, "alloc") && event->argument_count == ALLOC_ARGUMENTS) {
        observe.requests[client] = (request_t){
            .high = reader_token_is(event->arguments[ALLOC_SIDE], "high"),
            .movable = reader_token_is(event->arguments[ALLOC_MOVABLE], "movable"),
        };
        if (observe.requests[client].high) {
            observe.pending.high_length = length_token(event->arguments[ALLOC_LENGTH]);
        }
    } else if (reader_token_is(event->name, "alloc_remaining")) {
        observe.requests[client] = (request_t){.high = false, .movable = false};
    } else if (reader_token_is(event->name, "write")) {
        /* Known once the client's data is known to exist: the event itself checks that. */
        observe.pending.stale_write = client_holds_data(client) && client_is_lost(client);
    }
}

static void fill_free(uintptr_t from, uintptr_t to) {
    for (uintptr_t word = from; word < to; word += WORD_BYTES) {
        *(uint32_t *)word = FREE_WORD;
    }
}

void observe_after_event(const event_t *event, bool checking) {
    const observed_layout_t *layout = observe_layout();
    /* A vm_start that could not start the VM made and freed the GC heap block within the event:
     * its header is in the middle, explained. */
    bool middle_explained = reader_token_is(event->name, "vm_start") && !vm_running();
    if (checking) {
        check_guards(event->number);
        check_overlaps(event->number, layout, false);
        check_overlaps(event->number, layout, true);
        check_blocks_inside_arena(event->number, layout);
        check_stranded(event->number, layout);
        check_sides_tiled(event->number, layout);
        if (!middle_explained) {
            check_middle(event->number, layout);
        }
        check_embedded_list(event->number, layout);
    }
    /* Space that returned to the middle gets the free pattern back; not while a stranded block
     * lies there (checking off): that would be the rig overwriting a live block. */
    bool stranded = false;
    for (uint32_t i = 0; i < layout->count; i++) {
        stranded = stranded || layout->blocks[i].side == OBSERVED_STRANDED;
    }
    if (layout->low_end <= layout->high_start && !stranded) {
        if (middle_explained) {
            fill_free(layout->low_end, layout->high_start);
        }
        if (layout->low_end < observe.low_end) {
            uintptr_t end = observe.low_end < layout->high_start ? observe.low_end
                                                                  : layout->high_start;
            fill_free(layout->low_end, end);
        }
        if (layout->high_start > observe.high_start) {
            uintptr_t start = observe.high_start > layout->low_end ? observe.high_start
                                                                    : layout->low_end;
            fill_free(start, layout->high_start);
        }
    }
    observe.low_end = layout->low_end;
    observe.high_start = layout->high_start;
}
