/*
 * Data patterns (MODEL.md "Data patterns"): every client allocation and every VM object is
 * filled with words unique to its owner, its generation (bumped by `write`) and the word's index,
 * so a block copied to the wrong place, shifted, half-moved or overwritten is told apart from a
 * sound one. Every word has the top byte 0xA5: never an address in RAM, so the conservative GC
 * never mistakes data for a pointer.
 */
#ifndef HEAPRIG_PATTERN_H
#define HEAPRIG_PATTERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "heaprig_config.h"

/* Pattern owners: clients 0..63 are owners 0..63, VM objects 0..63 owners 64..127. */
#define PATTERN_OBJECT_OWNER_BASE HEAPRIG_MAX_CLIENTS

typedef struct {
    uint32_t owner;
    uint32_t generation;
} pattern_t;

typedef struct {
    bool intact;
    const uint32_t *where; /* first bad word (when !intact) */
    uint32_t expected;
    uint32_t found;
} pattern_check_t;

/* A data check that failed, with whose data it was. */
typedef struct {
    pattern_t pattern;
    pattern_check_t check;
} pattern_corruption_t;

static inline pattern_t pattern_of_client(uint32_t client, uint32_t generation) {
    return (pattern_t){client, generation};
}

static inline pattern_t pattern_of_object(uint32_t object) {
    return (pattern_t){PATTERN_OBJECT_OWNER_BASE + object, 0};
}

static inline bool pattern_owner_is_object(uint32_t owner) {
    return owner >= PATTERN_OBJECT_OWNER_BASE;
}

uint32_t pattern_word(pattern_t pattern, uint32_t index);
/* Writes ceil(bytes / 4) words. */
void pattern_fill(uint32_t *data, uint32_t bytes, pattern_t pattern);
/* Compares ceil(bytes / 4) words; stops at the first bad one. */
pattern_check_t pattern_check(const uint32_t *data, uint32_t bytes, pattern_t pattern);

#endif
