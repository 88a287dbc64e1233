/*
 * The rig's stand-ins for the optional extras of heaprig_backend.h (target/rig/backend.c).
 * A backend that lacks an extra gets the stand-in under the extra's own name (a weak alias);
 * a multi-build image (target/multi/multi_build.c) calls them for a copy that lacks one.
 */
#ifndef HEAPRIG_RIG_FALLBACKS_H
#define HEAPRIG_RIG_FALLBACKS_H

#include "heaprig_backend.h"

/* heap_check() of a backend that has none: a sound heap, detail "not available". */
heap_check_result_t heaprig_fallback_check(void);

/* heap_walk() of a backend that has none: heaprig_layout_walk() (target/rig/layout_walk.h). The
 * backend's heap_walk is this very function unless the backend defines its own. */
void heaprig_fallback_walk(heap_walker_t visit, void *context);

#endif
