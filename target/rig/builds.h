/*
 * The backend builds a firmware image holds, and which one runs now.
 *
 * A build is one compilation of the backend with its build-time settings (heaprig_config.h:
 * handle slots, move support, debug). An ordinary image holds one, the one it was compiled with
 * (target/rig/single_build.c). A *multi-build image* holds several copies of the same backend,
 * one per build, for batch runs of scenarios that ask for different builds
 * (target/multi/multi_build.c), each with its own settings and backend source: the batch's
 * `select_build` event makes one active, every call of the backend interface goes to it, and the
 * scenario's `build` event checks that it is the build the scenario asks for. The rig asks these functions, never the
 * settings macros, so that its code is the same in either kind of image.
 */
#ifndef HEAPRIG_RIG_BUILDS_H
#define HEAPRIG_RIG_BUILDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t slots;     /* SUPERVISOR_SLOTS */
    bool move_support;  /* SUPERVISOR_MOVE_SUPPORT */
    bool debug;         /* HEAPRIG_DEBUG */
} heaprig_build_t;

/* How many builds the image holds (at least one), and each of them. */
size_t heaprig_build_count(void);
const heaprig_build_t *heaprig_build_at(size_t index);

/* The build the backend calls go to: the first one from boot until `select_build` picks
 * another. */
const heaprig_build_t *heaprig_active_build(void);

/* Does the active build's backend bring its own heap_walk() (an optional extra)? Without one,
 * heap_walk() is the rig's stand-in (rig/fallbacks.h). */
bool heaprig_active_build_has_walker(void);

/* Makes build `index` (0 <= index < heaprig_build_count()) the active one; false (nothing
 * changed) if there is no such build. Only between scenarios: the rig resets every build's data
 * at the next `reset`. */
bool heaprig_select_build(size_t index);

#endif
