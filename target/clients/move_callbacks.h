/*
 * Move callbacks (SPEC §1.5 step 5), kept by the rig rather than by the backend: a backend only
 * says "allocations have moved" (heaprig_allocations_moved() in heaprig_backend.h), as the
 * runtime's own allocator calls its display code at the end of a move, and the rig runs every
 * registered callback once, in registration order.
 */
#ifndef HEAPRIG_MOVE_CALLBACKS_H
#define HEAPRIG_MOVE_CALLBACKS_H

#include <stdbool.h>

typedef void (*move_callback_t)(void *context);

/* Forgets every callback (the start of a scenario). */
void move_callbacks_reset(void);
/* Adds one at the end of the order. Returns false if the table (one entry per client) is full. */
bool move_callback_register(move_callback_t callback, void *context);
/* Removes it; those after it keep their order. A pair not registered is ignored. */
void move_callback_unregister(move_callback_t callback, void *context);

#endif
