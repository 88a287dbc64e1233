/* Empty stand-ins for the rig's side of heaprig_backend.h (not counted by `make size`). */
#include "heaprig_backend.h"

static uint32_t arena[64];

struct _supervisor_allocation_node *heaprig_embedded_root;

bool heaprig_gc_alloc_possible(void) {
    return false;
}

void *heaprig_gc_alloc(size_t bytes, bool long_lived) {
    (void)bytes;
    (void)long_lived;
    return NULL;
}

void heaprig_gc_free(void *ptr) {
    (void)ptr;
}

uint32_t *heaprig_heap_bottom(void) {
    return arena;
}

uint32_t *heaprig_heap_top(void) {
    return arena + sizeof(arena) / sizeof(arena[0]);
}

void heaprig_allocations_moved(void) {
}

void heaprig_assert_failed(const char *file, int line, const char *expression) {
    (void)file;
    (void)line;
    (void)expression;
    for (;;) {
    }
}
