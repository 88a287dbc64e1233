/*
 * The supervisor heap's arena: a static buffer of HEAPRIG_ARENA_MAX bytes, of which a `reset`
 * event uses the first ARENA bytes. port_heap_get_bottom()/port_heap_get_top()
 * (supervisor/port.h) answer from here. Results give addresses as offsets from the bottom.
 */
#ifndef HEAPRIG_ARENA_H
#define HEAPRIG_ARENA_H

#include <stdbool.h>
#include <stdint.h>

#include "heaprig_config.h"

/* The smallest arena a `reset` may ask for (PROTOCOL.md). */
#define ARENA_MIN_BYTES 16u
/* Words of storage kept free just below the bottom and just above the top of any arena, where
 * the observer places its guard words (interp/observe.c). Zero after arena_configure(). */
#define ARENA_GUARD_WORDS 4u

/* Uses the first `bytes` of the buffer (ARENA_MIN_BYTES..HEAPRIG_ARENA_MAX, a multiple of 4).
 * Zero-fills the previous arena and its guard words, the only storage a run writes, so that
 * every run starts from the same memory: all zero, unless something wrote outside its arena
 * (the reset proof then names the word, interp/rig_reset.c). */
void arena_configure(uint32_t bytes);
uint32_t arena_size(void);
/* Byte offset of `address` from the bottom (meaningful only for addresses inside the arena). */
uint32_t arena_offset(const void *address);
/* Does [address, address + bytes) lie inside the configured arena? */
bool arena_holds(const void *address, uint32_t bytes);

#endif
