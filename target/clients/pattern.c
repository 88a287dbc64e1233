/*
 * Pattern words: a hash of (owner, generation, index) in the low 24 bits under the 0xA5 marker.
 */
#include "clients/pattern.h"

#define WORD_BYTES 4u
#define PATTERN_MARKER 0xA5000000u
#define PATTERN_HASH_MASK 0x00FFFFFFu
/* Odd multipliers of a 32-bit multiplicative hash, and its final mixing shift. */
#define OWNER_MULTIPLIER 0x9E3779B1u
#define GENERATION_MULTIPLIER 0x85EBCA77u
#define INDEX_MULTIPLIER 0xC2B2AE3Du
#define MIX_SHIFT 15u

static uint32_t words_of(uint32_t bytes) {
    return bytes / WORD_BYTES + (bytes % WORD_BYTES != 0);
}

uint32_t pattern_word(pattern_t pattern, uint32_t index) {
    uint32_t hash = (pattern.owner + 1u) * OWNER_MULTIPLIER +
                    (pattern.generation + 1u) * GENERATION_MULTIPLIER +
                    (index + 1u) * INDEX_MULTIPLIER;
    hash ^= hash >> MIX_SHIFT;
    return PATTERN_MARKER | (hash & PATTERN_HASH_MASK);
}

void pattern_fill(uint32_t *data, uint32_t bytes, pattern_t pattern) {
    uint32_t words = words_of(bytes);
    for (uint32_t i = 0; i < words; i++) {
        data[i] = pattern_word(pattern, i);
    }
}

pattern_check_t pattern_check(const uint32_t *data, uint32_t bytes, pattern_t pattern) {
    uint32_t words = words_of(bytes);
    for (uint32_t i = 0; i < words; i++) {
        uint32_t expected = pattern_word(pattern, i);
        if (data[i] != expected) {
            return (pattern_check_t){false, &data[i], expected, data[i]};
        }
    }
    return (pattern_check_t){true, NULL, 0, 0};
}
