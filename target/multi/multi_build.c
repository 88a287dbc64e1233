/*
 * A multi-build image (target/rig/builds.h): several builds of the same backend in one firmware,
 * so that one boot can run a batch of scenarios that ask for different builds.
 *
 * Each build is the backend compiled with its own settings, its interface functions renamed
 * heaprig_<tag>_<function> (`objcopy --redefine-sym`, target/multi/multi.mk); its file-scope
 * state stays private to its copy. The generated list multi_builds.h names them, one line each:
 *   HEAPRIG_BUILD(tag, slots, move_support, debug)
 * This file gives the rest of the firmware the interface under its usual names, each function
 * passing the call on to the copy of the build selected last. Every copy's data lies in the
 * sections the rig resets (target/backend_sections.ld), so a `reset` resets them all.
 */
#include "heaprig_backend.h"
#include "rig/builds.h"
#include "rig/fallbacks.h"

/* The backend interface of one copy. The optional extras may be missing (NULL): the rig's
 * fallbacks stand in, as they do for a single backend without them. */
typedef struct {
    heaprig_build_t build;
    supervisor_allocation *(*allocate_memory)(uint32_t length, bool high, bool movable);
    supervisor_allocation *(*allocate_remaining_memory)(void);
    void (*free_memory)(supervisor_allocation *allocation);
    supervisor_allocation *(*allocation_from_ptr)(void *ptr);
    size_t (*get_allocation_length)(supervisor_allocation *allocation);
    void (*supervisor_move_memory)(void);
    heap_check_result_t (*heap_check)(void);
    void (*heap_walk)(heap_walker_t visit, void *context);
    const char *(*supervisor_heap_take_misuse)(void);
} backend_copy_t;

#define COPY_OF(tag, function) heaprig_##tag##_##function

/* Declarations of every copy's functions; the extras weak, so that a copy without them links. */
#define HEAPRIG_BUILD(tag, slots, move_support, debug)                                          \
    supervisor_allocation *COPY_OF(tag, allocate_memory)(uint32_t, bool, bool);                  \
    supervisor_allocation *COPY_OF(tag, allocate_remaining_memory)(void);                        \
    void COPY_OF(tag, free_memory)(supervisor_allocation *);                                     \
    supervisor_allocation *COPY_OF(tag, allocation_from_ptr)(void *);                            \
    size_t COPY_OF(tag, get_allocation_length)(supervisor_allocation *);                         \
    void COPY_OF(tag, supervisor_move_memory)(void);                                             \
    __attribute__((weak)) heap_check_result_t COPY_OF(tag, heap_check)(void);                    \
    __attribute__((weak)) void COPY_OF(tag, heap_walk)(heap_walker_t, void *);                   \
    __attribute__((weak)) const char *COPY_OF(tag, supervisor_heap_take_misuse)(void);
#include "multi_builds.h"
#undef HEAPRIG_BUILD

static const backend_copy_t copies[] = {
#define HEAPRIG_BUILD(tag, slots, move_support, debug)                                          \
    {                                                                                            \
        {(slots), (move_support) != 0, (debug) != 0},                                            \
        COPY_OF(tag, allocate_memory),                                                           \
        COPY_OF(tag, allocate_remaining_memory),                                                 \
        COPY_OF(tag, free_memory),                                                               \
        COPY_OF(tag, allocation_from_ptr),                                                       \
        COPY_OF(tag, get_allocation_length),                                                     \
        COPY_OF(tag, supervisor_move_memory),                                                    \
        COPY_OF(tag, heap_check),                                                                \
        COPY_OF(tag, heap_walk),                                                                 \
        COPY_OF(tag, supervisor_heap_take_misuse),                                               \
    },
#include "multi_builds.h"
#undef HEAPRIG_BUILD
};

#define COPY_COUNT (sizeof(copies) / sizeof(copies[0]))

/* Not reset between scenarios: the batch's `select_build` before each one picks its own. */
static const backend_copy_t *active = &copies[0];

/* ---- Builds (rig/builds.h) ---------------------------------------------------------------- */

size_t heaprig_build_count(void) {
    return COPY_COUNT;
}

const heaprig_build_t *heaprig_build_at(size_t index) {
    return &copies[index].build;
}

const heaprig_build_t *heaprig_active_build(void) {
    return &active->build;
}

bool heaprig_active_build_has_walker(void) {
    return active->heap_walk != NULL;
}

bool heaprig_select_build(size_t index) {
    if (index >= COPY_COUNT) {
        return false;
    }
    active = &copies[index];
    return true;
}

/* ---- The backend interface, passed on to the active copy ---------------------------------- */

supervisor_allocation *allocate_memory(uint32_t length, bool high, bool movable) {
    return active->allocate_memory(length, high, movable);
}

supervisor_allocation *allocate_remaining_memory(void) {
    return active->allocate_remaining_memory();
}

void free_memory(supervisor_allocation *allocation) {
    active->free_memory(allocation);
}

supervisor_allocation *allocation_from_ptr(void *ptr) {
    return active->allocation_from_ptr(ptr);
}

size_t get_allocation_length(supervisor_allocation *allocation) {
    return active->get_allocation_length(allocation);
}

void supervisor_move_memory(void) {
    active->supervisor_move_memory();
}

heap_check_result_t heap_check(void) {
    return active->heap_check != NULL ? active->heap_check() : heaprig_fallback_check();
}

void heap_walk(heap_walker_t visit, void *context) {
    if (active->heap_walk != NULL) {
        active->heap_walk(visit, context);
    } else {
        heaprig_fallback_walk(visit, context);
    }
}

const char *supervisor_heap_take_misuse(void) {
    return active->supervisor_heap_take_misuse != NULL ? active->supervisor_heap_take_misuse()
                                                       : NULL;
}
