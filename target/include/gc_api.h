/*
 * What the allocator needs from the garbage collector (SPEC §1.2 step 4, §1.3 R9). Implemented
 * by the GC model in target/vm/gc.c.
 */
#ifndef HEAPRIG_GC_API_H
#define HEAPRIG_GC_API_H

#include <stdbool.h>
#include <stddef.h>

/* True while a VM runs and its GC heap can serve allocations. */
bool gc_alloc_possible(void);
/* n_bytes from the GC heap, NULL if it cannot be had even after one collection. Long-lived
 * allocations are placed last-fit from the high end of the heap. */
void *gc_alloc(size_t n_bytes, bool long_lived);
/* Returns a block obtained from gc_alloc to the heap. NULL is ignored. */
void gc_free(void *ptr);

#endif
