/*
 * Movable supervisor heap allocations: the public API (SPEC §1.1). These names match the
 * embedded runtime's supervisor API, so code written against it compiles unchanged.
 */
#ifndef SUPERVISOR_MEMORY_H
#define SUPERVISOR_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A handle never moves; `ptr` (the data address) changes when the block is moved. A free slot
 * has ptr == NULL. */
typedef struct {
    uint32_t *ptr;
} supervisor_allocation;

supervisor_allocation *allocate_memory(uint32_t length, bool high, bool movable);
supervisor_allocation *allocate_remaining_memory(void);
void free_memory(supervisor_allocation *allocation);
supervisor_allocation *allocation_from_ptr(void *ptr);
size_t get_allocation_length(supervisor_allocation *allocation);
void supervisor_move_memory(void);

#endif
