/*
 * The heap states of the benchmark and the four measured calls (bench.h).
 *
 * A state with `live` low blocks and `embedded` embedded blocks is built from a fresh backend,
 * the same way every time, so every count is deterministic:
 *
 *   1. 2 * live movable low blocks, lengths cycling through LOW_LENGTHS, then every other one
 *      freed, the lowest first: `live` holes, each right below a live block, so compaction has
 *      work everywhere (the low head stays live);
 *   2. measured: allocate_memory(PROBE_LENGTH, low, movable). No hole has that length, so the
 *      whole low side is searched before the block goes to the free middle;
 *   3. measured: allocation_from_ptr() of the newest live low block's pointer;
 *   4. measured: free_memory() of the probe block (the low head: popped);
 *   5. a VM run: the free middle becomes the GC heap and `embedded` movable blocks are allocated
 *      in it (lengths from EMBEDDED_LENGTHS, which no hole has, so none lands in a hole);
 *   6. the VM exits as target/vm/vm.c does it (GC torn down, its heap block freed), and
 *      supervisor_move_memory() is measured: compaction of the low side and promotion.
 * Every block holds a data pattern; after the move the heap must pass heap_check() and every
 * pattern must be intact, or the bench stops with an error rather than print a number.
 */
#include "bench.h"

#include <stddef.h>

#include "clients/move_callbacks.h"
#include "clients/pattern.h"
#include "heaprig_backend.h"
#include "heaprig_config.h"
#include "instructions.h"
#include "interp/report.h"
#include "vm/arena.h"
#include "vm/gc.h"
#include "vm/vm.h"

/* Room for 2 * BENCH_LIVE_MAX low blocks and the GC heap holding BENCH_EMBEDDED_MAX blocks. */
#define BENCH_ARENA_BYTES (64u * 1024u)
_Static_assert(BENCH_ARENA_BYTES <= HEAPRIG_ARENA_MAX, "the bench arena fits the buffer");
/* Step 1 takes one slot per block before half of them are freed. */
_Static_assert(SUPERVISOR_SLOTS >= 2u * BENCH_LIVE_MAX, "the bench needs 2 * BENCH_LIVE_MAX slots");

static const uint32_t LOW_LENGTHS[] = {8u, 16u, 24u, 32u};
static const uint32_t EMBEDDED_LENGTHS[] = {12u, 20u, 28u, 36u};
#define PROBE_LENGTH 40u
#define LENGTH_COUNT (sizeof(LOW_LENGTHS) / sizeof(LOW_LENGTHS[0]))
_Static_assert(sizeof(EMBEDDED_LENGTHS) == sizeof(LOW_LENGTHS), "both length tables cycle alike");

/* Pattern owners: low blocks by index, embedded blocks after them. */
#define EMBEDDED_OWNER_BASE (2u * BENCH_LIVE_MAX)

typedef struct {
    supervisor_allocation *handle;
    uint32_t length;
    pattern_t pattern;
} bench_block_t;

static struct {
    bench_block_t blocks[BENCH_LIVE_MAX + BENCH_EMBEDDED_MAX]; /* the live ones */
    uint32_t count;
    /* Arguments and result of the call being measured. */
    uint32_t length;
    void *pointer;
    supervisor_allocation *handle;
} bench;

/* ---- The measured calls (each a plain function of one context, as instructions_of wants) ---- */

static void call_allocate(void *context) {
    (void)context;
    bench.handle = allocate_memory(bench.length, false, true);
}

static void call_from_ptr(void *context) {
    (void)context;
    bench.handle = allocation_from_ptr(bench.pointer);
}

static void call_free(void *context) {
    (void)context;
    free_memory(bench.handle);
}

static void call_move(void *context) {
    (void)context;
    supervisor_move_memory();
}

/* ---- Building the state ------------------------------------------------------------------- */

static void scan_roots(void *context) {
    (void)context;
    gc_mark_root(heaprig_embedded_root);
}

static supervisor_allocation *allocate_filled(uint32_t length, uint32_t owner) {
    supervisor_allocation *handle = allocate_memory(length, false, true);
    if (handle != NULL) {
        pattern_fill(handle->ptr, length, pattern_of_client(owner, 0));
    }
    return handle;
}

static void keep(supervisor_allocation *handle, uint32_t length, uint32_t owner) {
    bench.blocks[bench.count++] =
        (bench_block_t){handle, length, pattern_of_client(owner, 0)};
}

static void fresh_heap(void) {
    arena_configure(BENCH_ARENA_BYTES);
    heaprig_backend_reset();
    move_callbacks_reset();
    vm_reset((vm_stack_config_t){.fixed = true});
    bench.count = 0;
}

/* Step 1: 2 * live blocks, every other one freed. */
static bench_error_t build_low_side(uint32_t live) {
    supervisor_allocation *made[2u * BENCH_LIVE_MAX];
    for (uint32_t i = 0; i < 2u * live; i++) {
        made[i] = allocate_filled(LOW_LENGTHS[i % LENGTH_COUNT], i);
        if (made[i] == NULL) {
            return "a low block could not be allocated";
        }
    }
    for (uint32_t i = 0; i < 2u * live; i += 2u) {
        free_memory(made[i]);
        keep(made[i + 1u], LOW_LENGTHS[(i + 1u) % LENGTH_COUNT], i + 1u);
    }
    return NULL;
}

/* Does `block`'s data lie inside `heap`'s data? */
static bool inside(const supervisor_allocation *block, const supervisor_allocation *heap) {
    const char *start = (const char *)heap->ptr;
    const char *data = (const char *)block->ptr;
    return data >= start && data < start + get_allocation_length((supervisor_allocation *)heap);
}

/* Step 5: a VM run with `embedded` blocks in its heap. Returns the heap's handle, or NULL. */
static supervisor_allocation *run_vm(uint32_t embedded, bench_error_t *error) {
    supervisor_allocation *heap = allocate_remaining_memory();
    if (heap == NULL || !gc_init(heap->ptr, get_allocation_length(heap), scan_roots, NULL)) {
        *error = "no GC heap";
        return NULL;
    }
    for (uint32_t j = 0; j < embedded; j++) {
        uint32_t length = EMBEDDED_LENGTHS[j % LENGTH_COUNT];
        supervisor_allocation *handle = allocate_filled(length, EMBEDDED_OWNER_BASE + j);
        if (handle == NULL) {
            *error = "an embedded block could not be allocated";
            return NULL;
        }
        if (!inside(handle, heap)) {
            *error = "a movable block allocated while the VM runs is not in the GC heap";
            return NULL;
        }
        keep(handle, length, EMBEDDED_OWNER_BASE + j);
    }
    return heap;
}

static bench_error_t check_heap(void) {
    if (heap_check().invariant != NULL) {
        return "heap_check() failed after the move";
    }
    for (uint32_t i = 0; i < bench.count; i++) {
        const bench_block_t *block = &bench.blocks[i];
        if (block->handle->ptr == NULL ||
            !pattern_check(block->handle->ptr, block->length, block->pattern).intact) {
            return "a block's data did not survive the move";
        }
    }
    return NULL;
}

/* ---- The bench ---------------------------------------------------------------------------- */

bench_error_t bench_state(uint32_t live, uint32_t embedded) {
    if (live < 1u || live > BENCH_LIVE_MAX || embedded > BENCH_EMBEDDED_MAX) {
        return "live must be 1..64 and embedded 0..32";
    }
    fresh_heap();
    bench_error_t error = build_low_side(live);
    if (error != NULL) {
        return error;
    }
    bench.length = PROBE_LENGTH;
    uint32_t allocate = instructions_of(call_allocate, NULL);
    supervisor_allocation *probe = bench.handle;
    if (probe == NULL) {
        return "the probe block could not be allocated";
    }
    bench.pointer = bench.blocks[bench.count - 1u].handle->ptr;
    uint32_t from_ptr = instructions_of(call_from_ptr, NULL);
    if (bench.handle != bench.blocks[bench.count - 1u].handle) {
        return "allocation_from_ptr() did not find the newest block";
    }
    bench.handle = probe;
    uint32_t free = instructions_of(call_free, NULL);
    supervisor_allocation *heap = run_vm(embedded, &error);
    if (heap == NULL) {
        return error;
    }
    gc_deinit();
    free_memory(heap);
    uint32_t move = instructions_of(call_move, NULL);
    error = check_heap();
    if (error != NULL) {
        return error;
    }
    report_begin("bench");
    report_u32("live", live);
    report_u32("embedded", embedded);
    report_u32("allocate_memory", allocate);
    report_u32("free_memory", free);
    report_u32("allocation_from_ptr", from_ptr);
    report_u32("supervisor_move_memory", move);
    report_end();
    return NULL;
}

void bench_calibrate(uint32_t iterations) {
    report_begin("calibrate");
    report_u32("iterations", iterations);
    report_u32("expected", 2u * iterations + 1u);
    report_u32("measured", instructions_of_known_loop(iterations));
    report_end();
}
