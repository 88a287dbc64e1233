/*
 * The backend's own walker (heap_walk(), an optional extra of heaprig_backend.h) checked against
 * what the rig observes from outside (interp/observe.h), after every event.
 */
#ifndef HEAPRIG_WALKER_CHECK_H
#define HEAPRIG_WALKER_CHECK_H

#include <stdint.h>

/* Walks the heap with the backend's heap_walk() and compares every region with the observed
 * layout; the first disagreement is a `violation` of `walker_agrees` (exit 3). A backend without
 * a walker of its own is not checked: the rig's fallback walker reads the same handles the
 * observation does, so it would only be compared with itself. */
void walker_check(uint32_t event);

#endif
