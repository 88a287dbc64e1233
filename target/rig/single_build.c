/*
 * An ordinary firmware image: the one backend build it was compiled with (target/rig/builds.h).
 * A multi-build image links target/multi/multi_build.c instead of this file.
 */
#include "heaprig_config.h"
#include "rig/builds.h"
#include "rig/fallbacks.h"

static const heaprig_build_t the_build = {
    .slots = SUPERVISOR_SLOTS,
    .move_support = SUPERVISOR_MOVE_SUPPORT != 0,
    .debug = HEAPRIG_DEBUG != 0,
};

size_t heaprig_build_count(void) {
    return 1;
}

const heaprig_build_t *heaprig_build_at(size_t index) {
    (void)index;
    return &the_build;
}

const heaprig_build_t *heaprig_active_build(void) {
    return &the_build;
}

bool heaprig_active_build_has_walker(void) {
    /* heap_walk is a weak alias of the stand-in unless the backend defines its own. */
    return heap_walk != heaprig_fallback_walk;
}

bool heaprig_select_build(size_t index) {
    return index == 0;
}
