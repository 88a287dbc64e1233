/*
 * The rig's side of the backend interface (heaprig_backend.h): the services a backend calls, the
 * reset of its state between scenarios, and fallbacks for the extras a foreign backend lacks.
 *
 * Reset without an init function. The build gathers the backend object's writable data into two
 * sections of their own (target/backend_sections.ld, applied with `ld -r`):
 *   heaprig_backend_data  its initialised data (.data, .data.*),
 *   heaprig_backend_bss   its zero-initialised data (.bss, .bss.*, COMMON),
 * bounded by __start_/__stop_ symbols (GNU ld defines them for any section named like a C
 * identifier; the firmware's linker.ld defines them itself, since it places the sections). At
 * boot the data section is copied aside; a reset copies it back and zeroes the other, which is
 * all a fresh boot would do for that file. Nothing here depends on what the backend's code is.
 */
#include <string.h>

#include "heaprig_backend.h"
#include "heaprig_config.h"
#include "gc_api.h"
#include "rig/fallbacks.h"
#include "rig/layout_walk.h"
#include "supervisor/port.h"

/* Weak: a backend with no data of one kind has no such section, and the linker then defines no
 * bounds for it; both bounds are then NULL and the section is empty. */
extern char __start_heaprig_backend_data[] __attribute__((weak));
extern char __stop_heaprig_backend_data[] __attribute__((weak));
extern char __start_heaprig_backend_bss[] __attribute__((weak));
extern char __stop_heaprig_backend_bss[] __attribute__((weak));

typedef struct {
    /* The backend's initialised data as the program image had it, taken at boot. Word-typed so
     * the copy is aligned for any backend variable. */
    uintptr_t initial_data[HEAPRIG_BACKEND_DATA_MAX / sizeof(uintptr_t)];
    bool snapshot_taken;
} backend_image_t;

static backend_image_t image;

static size_t section_bytes(const char *start, const char *stop) {
    return (size_t)(stop - start);
}

bool heaprig_backend_snapshot(void) {
    size_t bytes = section_bytes(__start_heaprig_backend_data, __stop_heaprig_backend_data);
    if (bytes > sizeof(image.initial_data)) {
        return false;
    }
    if (bytes != 0) { /* with no section both bounds are NULL, which memcpy must not see */
        memcpy(image.initial_data, __start_heaprig_backend_data, bytes);
    }
    image.snapshot_taken = true;
    return true;
}

void heaprig_backend_reset(void) {
    /* A reset without the boot snapshot would freeze whatever the backend holds now. */
    if (!image.snapshot_taken) {
        heaprig_assert_failed(__FILE__, __LINE__, "heaprig_backend_snapshot() ran at boot");
    }
    size_t data_bytes = section_bytes(__start_heaprig_backend_data, __stop_heaprig_backend_data);
    size_t bss_bytes = section_bytes(__start_heaprig_backend_bss, __stop_heaprig_backend_bss);
    if (data_bytes != 0) {
        memcpy(__start_heaprig_backend_data, image.initial_data, data_bytes);
    }
    if (bss_bytes != 0) {
        memset(__start_heaprig_backend_bss, 0, bss_bytes);
    }
}

/* ---- Services (the arena and the GC model under their rig-side names) --------------------- */

uint32_t *heaprig_heap_bottom(void) {
    return port_heap_get_bottom();
}

uint32_t *heaprig_heap_top(void) {
    return port_heap_get_top();
}

bool heaprig_gc_alloc_possible(void) {
    return gc_alloc_possible();
}

void *heaprig_gc_alloc(size_t bytes, bool long_lived) {
    return gc_alloc(bytes, long_lived);
}

void heaprig_gc_free(void *ptr) {
    gc_free(ptr);
}

/* ---- Fallbacks for the optional extras ---------------------------------------------------- */
/* Weak: a backend that defines its own replaces them at link time. */

heap_check_result_t heaprig_fallback_check(void) {
    return (heap_check_result_t){.invariant = NULL, .where = NULL,
                                 .detail = "not available: the backend has no checker"};
}
heap_check_result_t heap_check(void) __attribute__((weak, alias("heaprig_fallback_check")));

/* No walker of its own: the rig walks the SPEC §1 block layout itself (layout_walk.c), so maps
 * still show a foreign backend's heap. A weak alias rather than a weak function, so that the rig
 * can tell (heap_walk == heaprig_fallback_walk) whether the backend brought its own. */
void heaprig_fallback_walk(heap_walker_t visit, void *context) {
    heaprig_layout_walk(visit, context);
}
void heap_walk(heap_walker_t visit, void *context)
    __attribute__((weak, alias("heaprig_fallback_walk")));

__attribute__((weak)) const char *supervisor_heap_take_misuse(void) {
    return NULL;
}
