/*
 * supervisor/shared/display.h for a backend written against the embedded runtime
 * (target/compat/README.md).
 *
 * In the runtime, supervisor memory code calls supervisor_display_move_memory() at the end of
 * supervisor_move_memory() so that display drivers re-find their buffers: that is the move
 * notification, which the rig turns into every registered client's move callback, in
 * registration order (heaprig_allocations_moved). Code that calls it only when
 * CIRCUITPY_DISPLAYIO is set notifies nobody on a board without displays, as on the board.
 */
#ifndef HEAPRIG_COMPAT_SUPERVISOR_SHARED_DISPLAY_H
#define HEAPRIG_COMPAT_SUPERVISOR_SHARED_DISPLAY_H

#include "heaprig_backend.h"
#include "py/mpconfig.h"

static inline void supervisor_display_move_memory(void) {
    heaprig_allocations_moved();
}

#endif
