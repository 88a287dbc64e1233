/*
 * The GC model (target/vm/MODEL.md): mark-sweep over 16-byte blocks.
 *
 * The GC heap [start, start + L) is the data of the supervisor block the VM got from
 * allocate_remaining_memory():
 *
 *   start                                                                       start + L
 *   | allocation table | (gap < 1 block) | pool: block 0, block 1, ... block n-1 |
 *
 *   n is the largest count with ceil(n / 4) + 16 * n <= L; the pool is aligned to the heap's end,
 *   so the last block ends where the supervisor block ends (the high head, or the arena top).
 *
 * Allocation table: 2 bits a block, 4 blocks a byte, block b in byte b / 4 at bit 2 * (b % 4):
 *   FREE  0b00  not allocated
 *   HEAD  0b01  first block of an object
 *   TAIL  0b10  a further block of the object whose HEAD is the nearest one below
 *   MARK  0b11  a HEAD found reachable during the current collection (HEAD again after sweep)
 *
 * Ordinary objects are placed first-fit from block 0, long-lived ones last-fit from block n-1.
 * A failed allocation collects once and retries once. New objects are zeroed.
 *
 * Marking is exact about where an object starts and conservative about what is a pointer: any
 * word, in a root or inside a marked object, equal to the address of a HEAD block's first byte
 * marks that object. Reachable objects wait on a bounded mark stack; when it is full the object is
 * marked but not pushed, and once the stack drains every marked object is scanned again until a
 * pass adds nothing (no recursion, no unbounded memory).
 */
#include "vm/gc.h"

#include <string.h>

#include "interp/fault.h"

#define BLOCKS_PER_TABLE_BYTE 4u
#define BITS_PER_BLOCK 2u
#define BLOCK_STATE_MASK 0x3u
/* Deep enough for any heap the rig builds; overflow is handled, only slower. */
#define MARK_STACK_DEPTH 64u

typedef enum {
    BLOCK_FREE = 0x0,
    BLOCK_HEAD = 0x1,
    BLOCK_TAIL = 0x2,
    BLOCK_MARK = 0x3,
} block_state_t;

typedef struct {
    bool running;
    uint8_t *table;
    uint8_t *pool;
    uint32_t block_count;
    gc_root_scanner_t scan_roots;
    void *roots_context;
    /* Marked objects whose contents are still to be scanned (block numbers of their HEADs). */
    uint32_t mark_stack[MARK_STACK_DEPTH];
    uint32_t mark_depth;
    bool mark_stack_overflowed;
} gc_state_t;

static gc_state_t gc;

/* ---- Accessors ---------------------------------------------------------------------------- */

static block_state_t block_state(uint32_t block) {
    uint32_t shift = BITS_PER_BLOCK * (block % BLOCKS_PER_TABLE_BYTE);
    return (block_state_t)((gc.table[block / BLOCKS_PER_TABLE_BYTE] >> shift) & BLOCK_STATE_MASK);
}

static void block_set_state(uint32_t block, block_state_t state) {
    uint32_t shift = BITS_PER_BLOCK * (block % BLOCKS_PER_TABLE_BYTE);
    uint8_t *entry = &gc.table[block / BLOCKS_PER_TABLE_BYTE];
    *entry = (uint8_t)((*entry & ~(BLOCK_STATE_MASK << shift)) | ((uint32_t)state << shift));
}

static uint8_t *block_address(uint32_t block) {
    return gc.pool + (size_t)block * GC_BLOCK_BYTES;
}

/* Is `address` the first byte of some block? Then *block is its number. */
static bool block_at(uintptr_t address, uint32_t *block) {
    uintptr_t pool = (uintptr_t)gc.pool;
    if (address < pool || address - pool >= (uintptr_t)gc.block_count * GC_BLOCK_BYTES ||
        (address - pool) % GC_BLOCK_BYTES != 0) {
        return false;
    }
    *block = (uint32_t)((address - pool) / GC_BLOCK_BYTES);
    return true;
}

/* The block after the last TAIL of the object whose HEAD is `head`. */
static uint32_t object_end(uint32_t head) {
    uint32_t block = head + 1;
    while (block < gc.block_count && block_state(block) == BLOCK_TAIL) {
        block++;
    }
    return block;
}

static uint32_t table_bytes(uint32_t blocks) {
    return blocks / BLOCKS_PER_TABLE_BYTE + (blocks % BLOCKS_PER_TABLE_BYTE != 0);
}

/* ---- Lifecycle ---------------------------------------------------------------------------- */

bool gc_init(void *start, size_t bytes, gc_root_scanner_t scan_roots, void *context) {
    memset(&gc, 0, sizeof(gc));
    uint32_t blocks = (uint32_t)(bytes / GC_BLOCK_BYTES);
    while (blocks > 0 && table_bytes(blocks) + (size_t)blocks * GC_BLOCK_BYTES > bytes) {
        blocks--;
    }
    if (blocks == 0) {
        return false;
    }
    gc.table = start;
    gc.pool = (uint8_t *)start + bytes - (size_t)blocks * GC_BLOCK_BYTES;
    gc.block_count = blocks;
    gc.scan_roots = scan_roots;
    gc.roots_context = context;
    memset(gc.table, 0, table_bytes(blocks)); /* every block FREE */
    gc.running = true;
    return true;
}

void gc_deinit(void) {
    memset(&gc, 0, sizeof(gc));
}

bool gc_alloc_possible(void) {
    return gc.running;
}

gc_layout_t gc_layout(void) {
    gc_layout_t layout = {gc.table, gc.pool, gc.block_count, 0};
    for (uint32_t block = 0; block < gc.block_count; block++) {
        layout.free_blocks += block_state(block) == BLOCK_FREE;
    }
    return layout;
}

/* ---- Mark --------------------------------------------------------------------------------- */

static void mark_object(uint32_t head) {
    block_set_state(head, BLOCK_MARK);
    if (gc.mark_depth < MARK_STACK_DEPTH) {
        gc.mark_stack[gc.mark_depth++] = head;
    } else {
        gc.mark_stack_overflowed = true; /* found again by rescan_marked_objects() */
    }
}

static void mark_word(uintptr_t word) {
    uint32_t block;
    if (block_at(word, &block) && block_state(block) == BLOCK_HEAD) {
        mark_object(block);
    }
}

void gc_mark_root(const void *value) {
    if (gc.running) {
        mark_word((uintptr_t)value);
    }
}

/* Every word of every block of the object, as a possible pointer. */
static void scan_object(uint32_t head) {
    const uint8_t *start = block_address(head);
    size_t words = (size_t)(object_end(head) - head) * GC_BLOCK_BYTES / sizeof(uintptr_t);
    for (size_t i = 0; i < words; i++) {
        uintptr_t word;
        memcpy(&word, start + i * sizeof(uintptr_t), sizeof(word));
        mark_word(word);
    }
}

static void drain_mark_stack(void) {
    while (gc.mark_depth > 0) {
        scan_object(gc.mark_stack[--gc.mark_depth]);
    }
}

/* After an overflow some marked objects were never scanned: scan all of them again. */
static void rescan_marked_objects(void) {
    while (gc.mark_stack_overflowed) {
        gc.mark_stack_overflowed = false;
        for (uint32_t block = 0; block < gc.block_count; block++) {
            if (block_state(block) == BLOCK_MARK) {
                scan_object(block);
                drain_mark_stack();
            }
        }
    }
}

/* ---- Sweep -------------------------------------------------------------------------------- */

/* Unmarked objects become FREE, marked ones HEAD again. Returns the blocks freed. */
static uint32_t sweep(void) {
    uint32_t freed = 0;
    bool freeing = false;
    for (uint32_t block = 0; block < gc.block_count; block++) {
        switch (block_state(block)) {
        case BLOCK_HEAD:
            freeing = true;
            block_set_state(block, BLOCK_FREE);
            freed++;
            break;
        case BLOCK_TAIL:
            if (freeing) {
                block_set_state(block, BLOCK_FREE);
                freed++;
            }
            break;
        case BLOCK_MARK:
            freeing = false;
            block_set_state(block, BLOCK_HEAD);
            break;
        case BLOCK_FREE:
            freeing = false;
            break;
        }
    }
    return freed;
}

uint32_t gc_collect(void) {
    if (!gc.running) {
        return 0;
    }
    gc.mark_depth = 0;
    gc.mark_stack_overflowed = false;
    gc.scan_roots(gc.roots_context);
    drain_mark_stack();
    rescan_marked_objects();
    return sweep();
}

/* ---- Allocation --------------------------------------------------------------------------- */

/* The lowest (first fit) or highest (last fit) run of `count` FREE blocks; false if none. */
static bool find_free_run(uint32_t count, bool last_fit, uint32_t *first) {
    uint32_t run = 0;
    for (uint32_t i = 0; i < gc.block_count; i++) {
        uint32_t block = last_fit ? gc.block_count - 1 - i : i;
        run = block_state(block) == BLOCK_FREE ? run + 1 : 0;
        if (run == count) {
            *first = last_fit ? block : block + 1 - count;
            return true;
        }
    }
    return false;
}

void *gc_alloc(size_t n_bytes, bool long_lived) {
    if (!gc.running || n_bytes == 0) {
        return NULL;
    }
    /* Rounded up without overflowing near SIZE_MAX. */
    size_t blocks = n_bytes / GC_BLOCK_BYTES + (n_bytes % GC_BLOCK_BYTES != 0);
    uint32_t count = blocks > gc.block_count ? 0 : (uint32_t)blocks; /* 0: can never fit */
    uint32_t first;
    if (count == 0 || !find_free_run(count, long_lived, &first)) {
        /* The model collects on every failure, even a hopeless one: it frees dropped objects. */
        gc_collect();
        if (count == 0 || !find_free_run(count, long_lived, &first)) {
            return NULL;
        }
    }
    block_set_state(first, BLOCK_HEAD);
    for (uint32_t block = first + 1; block < first + count; block++) {
        block_set_state(block, BLOCK_TAIL);
    }
    memset(block_address(first), 0, (size_t)count * GC_BLOCK_BYTES);
    return block_address(first);
}

void gc_free(void *ptr) {
    if (ptr == NULL) {
        return;
    }
    uint32_t head;
    /* Freeing anything but a live object would silently corrupt the heap: make it a fault. */
    HEAPRIG_ASSERT(gc.running);
    HEAPRIG_ASSERT(block_at((uintptr_t)ptr, &head) && block_state(head) == BLOCK_HEAD);
    uint32_t end = object_end(head);
    for (uint32_t block = head; block < end; block++) {
        block_set_state(block, BLOCK_FREE);
    }
}
