/*
 * rig_reset(): the rig back to boot state and the proof of it (see rig_reset.h).
 *
 * The proof checks, in this order, and names the first thing that is not as a fresh boot has it:
 *   arena_pattern      every word of the arena buffer (all HEAPRIG_ARENA_MAX bytes, not only the
 *                      new arena: a stray write above an old arena's top is found too) holds the
 *                      initial pattern;
 *   allocator_empty    the allocator's walk is one free middle spanning the whole new arena, the
 *                      embedded list is empty and its checker finds nothing;
 *   clients_forgotten  no client holds an allocation (a client's move callback is registered only
 *                      while it holds one);
 *   vm_stopped         no VM runs, no stack or GC heap block is held, no VM object is held, and
 *                      the collector cannot allocate.
 *
 * HEAPRIG_PLANT_RESET_LEAK (for the harness's own tests; never in a real build) skips part of the
 * reset so that the proof must fail: 1 keeps the old arena contents when its size is unchanged,
 * 2 keeps the clients, 3 leaves one stray word, word HEAPRIG_PLANT_STRAY_WORD of the buffer, not
 * the initial pattern (the proof must name exactly that word, wherever it sits in a round).
 */
#include "interp/rig_reset.h"

#include <stdbool.h>
#include <stddef.h>

#include "clients/clients.h"
#include "gc_api.h"
#include "heaprig_config.h"
#include "interp/interp.h"
#include "interp/report.h"
#include "platform.h"
#include "supervisor/port.h"
#include "heaprig_backend.h"
#include "vm/arena.h"

/* The arena's initial pattern: what the buffer holds at boot (it is zero-initialised storage) and
 * what arena_configure() refills it with. */
#define ARENA_INITIAL_WORD 0u
#define WORD_BYTES 4u

#define PLANT_NONE 0
#define PLANT_KEEP_ARENA 1
#define PLANT_KEEP_CLIENTS 2
#define PLANT_STRAY_WORD 3
#ifndef HEAPRIG_PLANT_RESET_LEAK
#define HEAPRIG_PLANT_RESET_LEAK PLANT_NONE
#endif
#if HEAPRIG_PLANT_RESET_LEAK == PLANT_STRAY_WORD
_Static_assert(HEAPRIG_PLANT_STRAY_WORD < HEAPRIG_ARENA_MAX / WORD_BYTES,
               "the stray word is in the buffer");
#endif

typedef struct {
    const char *proof;  /* NULL: proven; else the name of the first check that failed */
    const void *where;  /* an address inside the arena buffer, or NULL */
    report_text_t detail;
} reset_proof_t;

static bool fail(reset_proof_t *proof, const char *name, const void *where, const char *format,
                 uint32_t value) {
    proof->proof = name;
    proof->where = where;
    report_text_clear(&proof->detail);
    report_text_format(&proof->detail, format, value);
    return false;
}

/* --- The reset -------------------------------------------------------------------------------- */

static void reset_arena(uint32_t arena_bytes) {
#if HEAPRIG_PLANT_RESET_LEAK == PLANT_KEEP_ARENA
    if (arena_size() == arena_bytes) {
        return; /* planted: "same size, nothing to do" leaves the last scenario's bytes */
    }
#endif
    arena_configure(arena_bytes);
}

/* The allocator's own state: the backend has no init function, so its .data and .bss are put
 * back as the program image had them (target/rig/backend.c); it reads the new arena's bounds
 * lazily. */
static void reset_allocator(void) {
    heaprig_backend_reset();
}

static void reset_clients(void) {
#if HEAPRIG_PLANT_RESET_LEAK != PLANT_KEEP_CLIENTS
    clients_reset();
#endif
}

/* The VM forgotten and no stack made yet: the stack is made after the proof. */
static void reset_vm(void) {
    vm_reset((vm_stack_config_t){.fixed = true, .bytes = 0});
}

/* Planted: a word the reset did not put back, as a stray write above the arena would leave it. */
static void plant_stray_word(void) {
#if HEAPRIG_PLANT_RESET_LEAK == PLANT_STRAY_WORD
    port_heap_get_bottom()[HEAPRIG_PLANT_STRAY_WORD] = ~ARENA_INITIAL_WORD;
#endif
}

/* --- The proof -------------------------------------------------------------------------------- */

/* Eight words a round, OR-ed together, with one compare and branch a round: the proof reads the
 * whole buffer at every reset, so in a batch it is a large share of a short scenario's
 * instructions, and a word at a time spends most of them on the loop, not the loads. A round that
 * is not all pattern is searched word by word for the first word that differs, which is also how
 * the words past the last whole round are checked. */
#define PROOF_ROUND_WORDS 8u
_Static_assert(PROOF_ROUND_WORDS == 8u, "round_differs() reads a round's words one by one");

static uint32_t round_differs(const uint32_t *round) {
    return (round[0] ^ ARENA_INITIAL_WORD) | (round[1] ^ ARENA_INITIAL_WORD) |
           (round[2] ^ ARENA_INITIAL_WORD) | (round[3] ^ ARENA_INITIAL_WORD) |
           (round[4] ^ ARENA_INITIAL_WORD) | (round[5] ^ ARENA_INITIAL_WORD) |
           (round[6] ^ ARENA_INITIAL_WORD) | (round[7] ^ ARENA_INITIAL_WORD);
}

static bool arena_holds_pattern(reset_proof_t *proof) {
    const uint32_t *words = port_heap_get_bottom();
    const uint32_t count = HEAPRIG_ARENA_MAX / WORD_BYTES;
    const uint32_t whole_rounds_end = count - count % PROOF_ROUND_WORDS;
    uint32_t index = 0;
    while (index < whole_rounds_end && round_differs(&words[index]) == 0) {
        index += PROOF_ROUND_WORDS;
    }
    for (; index < count; index++) {
        if (words[index] != ARENA_INITIAL_WORD) {
            return fail(proof, "arena_pattern", &words[index],
                        "a word of the arena buffer is %x, not the initial pattern", words[index]);
        }
    }
    return true;
}

typedef struct {
    uint32_t regions;
    bool one_whole_middle;
} empty_walk_t;

static void count_region(const heap_region_t *region, void *context) {
    empty_walk_t *walk = context;
    walk->regions++;
    walk->one_whole_middle = region->kind == REGION_FREE_MIDDLE &&
                             region->start == (const void *)port_heap_get_bottom() &&
                             region->length == arena_size();
}

static bool allocator_empty(reset_proof_t *proof) {
    heap_check_result_t check = heap_check();
    if (check.invariant != NULL) {
        return fail(proof, "allocator_empty", check.where,
                    "the allocator's checker fails right after the reset", 0);
    }
    if (heaprig_embedded_root != NULL) {
        return fail(proof, "allocator_empty", NULL, "the embedded list is not empty", 0);
    }
    empty_walk_t walk = {0, false};
    heap_walk(count_region, &walk);
    /* A backend without a walker shows no regions: its data image was put back, which is all a
     * boot would do for it. */
    if (walk.regions != 0 && (walk.regions != 1 || !walk.one_whole_middle)) {
        return fail(proof, "allocator_empty", NULL,
                    "the heap walk has %u regions, not one free middle spanning the arena",
                    walk.regions);
    }
    return true;
}

static bool clients_forgotten(reset_proof_t *proof) {
    for (uint32_t client = 0; client < HEAPRIG_MAX_CLIENTS; client++) {
        if (client_holds(client)) {
            return fail(proof, "clients_forgotten", NULL, "client %u still holds an allocation",
                        client);
        }
    }
    return true;
}

static bool vm_stopped(reset_proof_t *proof) {
    if (vm_running() || gc_alloc_possible()) {
        return fail(proof, "vm_stopped", NULL, "a VM still runs", 0);
    }
    if (vm_stack_allocation() != NULL || vm_heap_allocation() != NULL) {
        return fail(proof, "vm_stopped", NULL, "the VM still holds a stack or GC heap block", 0);
    }
    for (uint32_t object = 0; object < HEAPRIG_MAX_OBJECTS; object++) {
        if (vm_object_held(object)) {
            return fail(proof, "vm_stopped", NULL, "VM object %u is still held", object);
        }
    }
    return true;
}

static noreturn void report_unproven(uint32_t event, const reset_proof_t *proof) {
    report_begin("reset_failed");
    report_u32("ev", event);
    report_string("proof", proof->proof);
    if (proof->where != NULL) {
        /* The arena buffer's offset even beyond the configured arena: arena_offset() is plain
         * subtraction from the bottom. */
        report_u32("at", arena_offset(proof->where));
    } else {
        report_null("at");
    }
    report_string("detail", proof->detail.chars);
    report_end();
    platform_exit(EXIT_RESET_UNPROVEN);
}

void rig_reset(uint32_t event, uint32_t arena_bytes, vm_stack_config_t stack) {
    reset_arena(arena_bytes);
    reset_allocator();
    reset_clients();
    reset_vm();
    plant_stray_word();

    reset_proof_t proof = {.proof = NULL, .where = NULL};
    if (!arena_holds_pattern(&proof) || !allocator_empty(&proof) ||
        !clients_forgotten(&proof) || !vm_stopped(&proof)) {
        report_unproven(event, &proof);
    }

    if (!stack.fixed) {
        vm_reset(stack);
    } else {
        vm_configure_stack(stack);
    }
    board_budget_restart();
}
