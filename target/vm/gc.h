/*
 * The VM's garbage collector: the deterministic mark-sweep model of target/vm/MODEL.md. The
 * allocator's view of it is include/gc_api.h (gc_alloc_possible, gc_alloc, gc_free); the VM model
 * (vm.c) starts and stops it and names the roots.
 */
#ifndef HEAPRIG_GC_H
#define HEAPRIG_GC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gc_api.h"

/* Bytes of one GC block. */
#define GC_BLOCK_BYTES 16u

/* Called at the start of every collection; it calls gc_mark_root() once per root. */
typedef void (*gc_root_scanner_t)(void *context);

/* Lays the GC heap over [start, start + bytes): allocation table first, pool aligned to the end.
 * Returns false, and leaves the GC stopped, when there is no room for a single block. */
bool gc_init(void *start, size_t bytes, gc_root_scanner_t scan_roots, void *context);
/* The heap is no longer usable: gc_alloc_possible() turns false. */
void gc_deinit(void);

/* A full collection; returns the number of blocks freed. */
uint32_t gc_collect(void);
/* During a collection: `value` is a root. It marks an object only if it is the exact address of
 * the first byte of an allocated object. */
void gc_mark_root(const void *value);

/* Read-only description of the running heap, for maps and tests. */
typedef struct {
    const uint8_t *table; /* the allocation table: 2 bits a block */
    const uint8_t *pool;  /* the first block */
    uint32_t block_count;
    uint32_t free_blocks;
} gc_layout_t;

gc_layout_t gc_layout(void);

#endif
