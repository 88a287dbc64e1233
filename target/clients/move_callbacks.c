/*
 * The move-callback registry and the rig's answer to heaprig_allocations_moved().
 *
 * The table is kept packed in registration order, so callbacks run in the order clients
 * registered them, whatever was unregistered in between (scenarios/FORMAT.md: a client that frees
 * and allocates again moves to the end of the order).
 */
#include "clients/move_callbacks.h"

#include <stddef.h>

#include "heaprig_backend.h"
#include "heaprig_config.h"

typedef struct {
    move_callback_t callback;
    void *context;
} move_callback_entry_t;

typedef struct {
    move_callback_entry_t entries[HEAPRIG_MAX_CLIENTS]; /* [0, count) in use */
    size_t count;
} move_callbacks_t;

static move_callbacks_t registry;

void move_callbacks_reset(void) {
    registry = (move_callbacks_t){.count = 0};
}

bool move_callback_register(move_callback_t callback, void *context) {
    if (registry.count == HEAPRIG_MAX_CLIENTS) {
        return false;
    }
    registry.entries[registry.count++] = (move_callback_entry_t){callback, context};
    return true;
}

void move_callback_unregister(move_callback_t callback, void *context) {
    size_t kept = 0;
    for (size_t i = 0; i < registry.count; i++) {
        if (registry.entries[i].callback != callback || registry.entries[i].context != context) {
            registry.entries[kept++] = registry.entries[i];
        }
    }
    registry.count = kept;
}

void heaprig_allocations_moved(void) {
    for (size_t i = 0; i < registry.count; i++) {
        registry.entries[i].callback(registry.entries[i].context);
    }
}
