/*
 * The arena buffer and the port functions the allocator takes its bounds from.
 */
#include "vm/arena.h"

#include <string.h>

#include "supervisor/port.h"

#define WORD_BYTES 4u

typedef struct {
    /* Words, so the bottom is word aligned as the allocator requires. The arena starts
     * ARENA_GUARD_WORDS into the buffer and ends at least that many words before its end, so the
     * guard words the observer keeps just outside it (interp/observe.c) are always storage. */
    uint32_t words[ARENA_GUARD_WORDS + HEAPRIG_ARENA_MAX / WORD_BYTES + ARENA_GUARD_WORDS];
    uint32_t bytes;
} arena_t;

static arena_t arena;

void arena_configure(uint32_t bytes) {
    if (bytes > HEAPRIG_ARENA_MAX) {
        bytes = HEAPRIG_ARENA_MAX; /* the interpreter rejects this earlier; never overrun */
    }
    /* Only the old arena and its guard words can hold data: the rest of the buffer was zero when
     * the old arena was set up (the reset proof, interp/rig_reset.c, checks all of it after this),
     * so a word written outside it is left for the proof to find, not wiped. Zeroing the whole
     * buffer at every reset would also cost a batch of small scenarios most of its time. */
    memset(arena.words, 0, arena.bytes + 2u * ARENA_GUARD_WORDS * WORD_BYTES);
    arena.bytes = bytes - bytes % WORD_BYTES;
}

uint32_t arena_size(void) {
    return arena.bytes;
}

uint32_t *port_heap_get_bottom(void) {
    return &arena.words[ARENA_GUARD_WORDS];
}

uint32_t *port_heap_get_top(void) {
    return &arena.words[ARENA_GUARD_WORDS + arena.bytes / WORD_BYTES];
}

uint32_t arena_offset(const void *address) {
    return (uint32_t)((uintptr_t)address - (uintptr_t)port_heap_get_bottom());
}

bool arena_holds(const void *address, uint32_t bytes) {
    uintptr_t start = (uintptr_t)address;
    uintptr_t bottom = (uintptr_t)port_heap_get_bottom();
    uintptr_t top = (uintptr_t)port_heap_get_top();
    return start >= bottom && start <= top && bytes <= top - start;
}
