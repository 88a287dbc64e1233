/*
 * Test fixture, not an allocator to use: our allocator unchanged (target/allocator/
 * supervisor_heap.c, included as it is), with a heap_walk() that tells one lie about the first
 * block it shows, chosen with -DWALKER_LIE=LIE_*. The heap itself stays sound, so only the
 * rig's check of the backend's walker against its own observation can see it
 * (target/interp/walker_check.c; harness/tests/test_walker_check.py).
 */
#define LIE_LENGTH 1  /* four bytes more than the block has */
#define LIE_OWNER 2   /* no owning handle */
#define LIE_HIDDEN 3  /* the block left out */

#ifndef WALKER_LIE
#error "build with -DWALKER_LIE=LIE_LENGTH (or LIE_OWNER, LIE_HIDDEN)"
#endif

/* The allocator's own walker, under another name. */
#define heap_walk truthful_heap_walk
#include "supervisor_heap.c"
#undef heap_walk

typedef struct {
    heap_walker_t visit;
    void *context;
    bool lied;
} liar_t;

static void tell(const heap_region_t *region, void *context) {
    liar_t *liar = context;
    heap_region_t told = *region;
    bool block = region->kind == REGION_LOW_BLOCK || region->kind == REGION_HIGH_BLOCK ||
                 region->kind == REGION_EMBEDDED_BLOCK;
    if (block && !liar->lied) {
        liar->lied = true;
#if WALKER_LIE == LIE_LENGTH
        told.length += WORD_BYTES;
#elif WALKER_LIE == LIE_OWNER
        told.allocation = NULL;
#elif WALKER_LIE == LIE_HIDDEN
        return;
#endif
    }
    liar->visit(&told, liar->context);
}

void heap_walk(heap_walker_t visit, void *context) {
    liar_t liar = {.visit = visit, .context = context, .lied = false};
    truthful_heap_walk(tell, &liar);
}
