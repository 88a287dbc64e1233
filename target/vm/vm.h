/*
 * The VM model (SPEC §2, target/vm/MODEL.md "VM lifecycle"): the C stack as a high immovable
 * allocation, the GC heap as allocate_remaining_memory() while a VM runs, VM objects held as GC
 * roots, and the collector's root set.
 */
#ifndef HEAPRIG_VM_H
#define HEAPRIG_VM_H

#include <stdbool.h>
#include <stdint.h>

#include "clients/pattern.h"
#include "supervisor/memory.h"

/* The board's stack: `fixed` (not in the supervisor heap) or a high block of `bytes`. */
typedef struct {
    bool fixed;
    uint32_t bytes;
} vm_stack_config_t;

/* Forgets the VM and its embedded-list root (call after heaprig_backend_reset()) and makes the
 * stack at once. */
void vm_reset(vm_stack_config_t stack);
/* The stack used from the next vm_start() on. */
void vm_configure_stack(vm_stack_config_t stack);

/* Re-makes the stack if its configuration changed, then takes the free middle as the GC heap.
 * Returns false (VM not running, no heap held) when either cannot be had. */
bool vm_start(void);
bool vm_running(void);
/* Checks every object's data; if all are intact, forgets them, tears the GC down, frees the heap
 * and calls supervisor_move_memory(). Returns false (having done nothing) on a corruption. */
bool vm_exit(pattern_corruption_t *corruption);

/* The stack's and the GC heap's handles; NULL when there is none. */
supervisor_allocation *vm_stack_allocation(void);
supervisor_allocation *vm_heap_allocation(void);

/* --- VM objects (ids 0..HEAPRIG_MAX_OBJECTS-1) ------------------------------------------------ */
/* Holds the result of obj_alloc, NULL (MemoryError) included: obj_drop is legal. */
bool vm_object_held(uint32_t object);
/* Holds a live object: obj_alloc of that id is illegal. */
bool vm_object_live(uint32_t object);
/* A GC object of `bytes` filled with the object's pattern, or NULL (MemoryError). */
void *vm_object_alloc(uint32_t object, uint32_t bytes, bool long_lived);
/* Checks the object's data; if intact the object is no longer a root. */
pattern_check_t vm_object_drop(uint32_t object);
/* Checks every live object; the first corruption, if any. */
bool vm_check_objects(pattern_corruption_t *corruption);
/* A full collection; the GC blocks freed. */
uint32_t vm_collect(void);

#endif
