/*
 * Host unit test of the GC model (make -f target/host.mk host-gc-test): layout, first/last fit,
 * collect-on-failure, exact-start marking, and marking through more objects than the mark stack
 * holds. Exit status 0 when every check passes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interp/fault.h"
#include "vm/gc.h"

#define HEAP_BYTES 880u
#define BIG_HEAP_BYTES 16384u
#define MAX_ROOTS 256u

typedef struct {
    const void *roots[MAX_ROOTS];
    size_t count;
} roots_t;

static uint32_t heap_words[BIG_HEAP_BYTES / sizeof(uint32_t)];
static roots_t roots;
static int failures;

void heaprig_assert_failed(const char *file, int line, const char *expression) {
    fprintf(stderr, "assert %s:%d: %s\n", file, line, expression);
    exit(1);
}

static void scan_roots(void *context) {
    roots_t *set = context;
    for (size_t i = 0; i < set->count; i++) {
        gc_mark_root(set->roots[i]);
    }
}

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                    \
        }                                                                  \
    } while (0)

static uint8_t *heap_start(void) {
    return (uint8_t *)heap_words;
}

static void start(size_t bytes) {
    roots.count = 0;
    memset(heap_words, 0xee, sizeof(heap_words));
    CHECK(gc_init(heap_start(), bytes, scan_roots, &roots));
}

static void test_layout_and_fit(void) {
    start(HEAP_BYTES);
    gc_layout_t layout = gc_layout();
    /* MODEL.md: n = 54 (ceil(54/4) + 16 * 54 = 878 <= 880), pool aligned to the end. */
    CHECK(layout.block_count == 54);
    CHECK(layout.pool == heap_start() + HEAP_BYTES - 54 * GC_BLOCK_BYTES);
    uint8_t *embedded = gc_alloc(48, true);
    CHECK(embedded == heap_start() + HEAP_BYTES - 48);
    uint8_t *first = gc_alloc(1, false);
    CHECK(first == layout.pool);
    CHECK(first[0] == 0 && first[15] == 0);
    uint8_t *second = gc_alloc(17, false);
    CHECK(second == layout.pool + GC_BLOCK_BYTES);
    CHECK(gc_layout().free_blocks == 54 - 3 - 1 - 2);
    gc_free(second);
    CHECK(gc_layout().free_blocks == 54 - 3 - 1);
    CHECK(gc_alloc(GC_BLOCK_BYTES * 55, false) == NULL);
    gc_deinit();
    CHECK(!gc_alloc_possible());
    CHECK(gc_alloc(4, false) == NULL);
    CHECK(!gc_init(heap_start(), GC_BLOCK_BYTES, scan_roots, &roots)); /* no room for the table */
    CHECK(gc_init(heap_start(), GC_BLOCK_BYTES + 1, scan_roots, &roots));
    CHECK(gc_layout().block_count == 1);
    gc_deinit();
}

static void test_collect_exact_starts(void) {
    start(HEAP_BYTES);
    uint8_t *kept = gc_alloc(32, false);
    uint8_t *interior = gc_alloc(32, false);
    uint8_t *dropped = gc_alloc(48, false);
    uint8_t *child = gc_alloc(16, false);
    roots.roots[roots.count++] = kept;
    roots.roots[roots.count++] = interior + 4; /* not a start: does not keep it */
    uintptr_t link = (uintptr_t)child;
    memcpy(kept + GC_BLOCK_BYTES + sizeof(link), &link, sizeof(link)); /* in kept's tail block */
    (void)dropped;
    CHECK(gc_collect() == 2 + 3);
    CHECK(gc_alloc(16, false) == interior); /* first fit reuses the freed space */
    CHECK(gc_collect() == 1);
    CHECK(gc_collect() == 0);
    gc_deinit();
}

static void test_collect_on_failure(void) {
    start(HEAP_BYTES);
    uint8_t *all = gc_alloc(54 * GC_BLOCK_BYTES, false);
    CHECK(all != NULL);
    uint8_t *again = gc_alloc(16, true); /* full: collects (all is no root), then fits */
    CHECK(again == all + 53 * GC_BLOCK_BYTES);
    gc_deinit();
}

/* One object pointing at 200 others, then a 200-long linked list: more than the mark stack. */
static void test_mark_stack_overflow(void) {
    enum { FAN_OUT = 200, CHAIN = 200 };
    start(BIG_HEAP_BYTES);
    uintptr_t *hub = gc_alloc(FAN_OUT * sizeof(uintptr_t), false);
    for (size_t i = 0; i < FAN_OUT; i++) {
        hub[i] = (uintptr_t)gc_alloc(8, false);
    }
    uintptr_t *previous = NULL;
    for (size_t i = 0; i < CHAIN; i++) {
        uintptr_t *node = gc_alloc(8, true);
        node[0] = (uintptr_t)previous;
        previous = node;
    }
    uint8_t *garbage = gc_alloc(16, false);
    CHECK(garbage != NULL);
    roots.roots[roots.count++] = hub;
    roots.roots[roots.count++] = previous;
    CHECK(gc_collect() == 1);
    /* Each leaf of the hub then points at the next one: marked only through rescans. */
    for (size_t i = 0; i + 1 < FAN_OUT; i++) {
        ((uintptr_t *)hub[i])[0] = hub[i + 1];
    }
    for (size_t i = 1; i < FAN_OUT; i++) {
        hub[i] = 0;
    }
    CHECK(gc_collect() == 0);
    roots.count = 0;
    gc_layout_t before = gc_layout();
    CHECK(gc_collect() == before.block_count - before.free_blocks);
    CHECK(gc_layout().free_blocks == gc_layout().block_count);
    gc_deinit();
}

int main(void) {
    test_layout_and_fit();
    test_collect_exact_starts();
    test_collect_on_failure();
    test_mark_stack_overflow();
    if (failures != 0) {
        fprintf(stderr, "gc_test: %d failures\n", failures);
        return 1;
    }
    printf("gc_test: ok\n");
    return 0;
}
