/* Empty stand-ins for what the allocator calls outside itself (not counted by `make size`). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gc_api.h"
#include "supervisor/port.h"

extern void heaprig_assert_failed(const char *file, int line, const char *expression);

static uint32_t arena[64];

bool gc_alloc_possible(void) {
    return false;
}

void *gc_alloc(size_t n_bytes, bool long_lived) {
    (void)n_bytes;
    (void)long_lived;
    return NULL;
}

void gc_free(void *ptr) {
    (void)ptr;
}

uint32_t *port_heap_get_bottom(void) {
    return arena;
}

uint32_t *port_heap_get_top(void) {
    return arena + sizeof(arena) / sizeof(arena[0]);
}

void heaprig_assert_failed(const char *file, int line, const char *expression) {
    (void)file;
    (void)line;
    (void)expression;
    for (;;) {
    }
}
