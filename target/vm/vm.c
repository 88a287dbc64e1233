/*
 * The VM model: lifecycle, objects, and the collector's roots.
 *
 * Roots (MODEL.md "Collection"): the address of every live VM object, and the embedded-list head
 * heaprig_embedded_root; each embedded block's first word links the next, so that one root keeps
 * the whole list alive.
 */
#include "vm/vm.h"

#include "heaprig_backend.h"
#include "interp/fault.h"
#include "vm/arena.h"
#include "vm/gc.h"

/* The embedded-list root word (heaprig_backend.h): the VM's, as in the runtime's VM state, so the
 * backend keeps no root of its own. Cleared with the VM at every reset. */
struct _supervisor_allocation_node *heaprig_embedded_root;

typedef struct {
    bool held;      /* obj_alloc ran and no obj_drop since (data may be NULL: MemoryError) */
    uint32_t *data;
    uint32_t bytes;
} vm_object_t;

typedef struct {
    vm_stack_config_t stack_config;   /* what the next vm_start uses */
    supervisor_allocation *stack;     /* the current stack block, NULL if fixed or not had */
    uint32_t stack_bytes;             /* its length */
    supervisor_allocation *heap;      /* the GC heap block while a VM runs */
    vm_object_t objects[HEAPRIG_MAX_OBJECTS];
} vm_t;

static vm_t vm;

static vm_object_t *object_at(uint32_t object) {
    HEAPRIG_ASSERT(object < HEAPRIG_MAX_OBJECTS);
    return &vm.objects[object];
}

/* ---- Roots -------------------------------------------------------------------------------- */

static void scan_roots(void *context) {
    (void)context;
    for (uint32_t object = 0; object < HEAPRIG_MAX_OBJECTS; object++) {
        if (vm.objects[object].data != NULL) {
            gc_mark_root(vm.objects[object].data);
        }
    }
    gc_mark_root(heaprig_embedded_root);
}

/* ---- Stack -------------------------------------------------------------------------------- */

static bool stack_matches_config(void) {
    if (vm.stack_config.fixed) {
        return vm.stack == NULL;
    }
    return vm.stack != NULL && vm.stack_bytes == vm.stack_config.bytes;
}

/* The C stack: a high immovable block of the configured size (none for a fixed stack). */
static void stack_make(void) {
    if (vm.stack_config.fixed) {
        return;
    }
    vm.stack = allocate_memory(vm.stack_config.bytes, true, false);
    vm.stack_bytes = vm.stack != NULL ? vm.stack_config.bytes : 0;
}

static void stack_free(void) {
    free_memory(vm.stack);
    vm.stack = NULL;
    vm.stack_bytes = 0;
}

void vm_reset(vm_stack_config_t stack) {
    gc_deinit();
    vm = (vm_t){.stack_config = stack};
    heaprig_embedded_root = NULL;
    stack_make();
}

void vm_configure_stack(vm_stack_config_t stack) {
    vm.stack_config = stack;
}

supervisor_allocation *vm_stack_allocation(void) {
    return vm.stack;
}

supervisor_allocation *vm_heap_allocation(void) {
    return vm.heap;
}

/* ---- Lifecycle ---------------------------------------------------------------------------- */

bool vm_running(void) {
    return vm.heap != NULL;
}

bool vm_start(void) {
    if (!stack_matches_config()) {
        stack_free();
        stack_make();
        if (!vm.stack_config.fixed && vm.stack == NULL) {
            return false;
        }
    }
    supervisor_allocation *heap = allocate_remaining_memory();
    if (heap == NULL) {
        return false;
    }
    /* A heap block reaching outside the arena (a backend with SPEC D4: a wrapped length) gets no
     * GC: clearing its allocation table would overwrite the rig itself before any detector could
     * run. It stays the VM's heap, unused, so the detectors after this event name it (`guard`
     * or `overlap`, interp/observe.c) and the run ends there. */
    if (!arena_holds(heap->ptr, get_allocation_length(heap))) {
        vm.heap = heap;
        return false;
    }
    if (!gc_init(heap->ptr, get_allocation_length(heap), scan_roots, NULL)) {
        free_memory(heap); /* no room for a single GC block */
        return false;
    }
    vm.heap = heap;
    return true;
}

bool vm_exit(pattern_corruption_t *corruption) {
    if (!vm_check_objects(corruption)) {
        return false;
    }
    for (uint32_t object = 0; object < HEAPRIG_MAX_OBJECTS; object++) {
        vm.objects[object] = (vm_object_t){.held = false};
    }
    gc_deinit();
    free_memory(vm.heap);
    vm.heap = NULL;
    supervisor_move_memory();
    return true;
}

/* ---- Objects ------------------------------------------------------------------------------ */

bool vm_object_held(uint32_t object) {
    return object_at(object)->held;
}

bool vm_object_live(uint32_t object) {
    return object_at(object)->data != NULL;
}

void *vm_object_alloc(uint32_t object, uint32_t bytes, bool long_lived) {
    vm_object_t *entry = object_at(object);
    uint32_t *data = gc_alloc(bytes, long_lived);
    *entry = (vm_object_t){.held = true, .data = data, .bytes = bytes};
    if (data != NULL) {
        pattern_fill(data, bytes, pattern_of_object(object));
    }
    return data;
}

pattern_check_t vm_object_drop(uint32_t object) {
    vm_object_t *entry = object_at(object);
    pattern_check_t check = {true, NULL, 0, 0};
    if (entry->data != NULL) {
        check = pattern_check(entry->data, entry->bytes, pattern_of_object(object));
    }
    if (check.intact) {
        *entry = (vm_object_t){.held = false};
    }
    return check;
}

bool vm_check_objects(pattern_corruption_t *corruption) {
    for (uint32_t object = 0; object < HEAPRIG_MAX_OBJECTS; object++) {
        const vm_object_t *entry = &vm.objects[object];
        if (entry->data == NULL) {
            continue;
        }
        pattern_t pattern = pattern_of_object(object);
        pattern_check_t check = pattern_check(entry->data, entry->bytes, pattern);
        if (!check.intact) {
            *corruption = (pattern_corruption_t){pattern, check};
            return false;
        }
    }
    return true;
}

uint32_t vm_collect(void) {
    return gc_collect();
}
