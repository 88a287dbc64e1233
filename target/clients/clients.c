/*
 * Handle clients and pointer clients, and their move callbacks.
 */
#include "clients/clients.h"

#include "clients/move_callbacks.h"
#include "interp/fault.h"
#include "vm/arena.h"

typedef struct {
    bool holds;                    /* an allocation was made and not freed (it may be NULL) */
    client_kind_t kind;
    supervisor_allocation *handle; /* handle client: its only reference to the data */
    /* Pointer client: its only reference to the data. Handle client: the data pointer as of the
     * last callback, to tell whether a move changed it. */
    uint32_t *data;
    uint32_t length;
    uint32_t generation;
    bool lost;                     /* pointer client: a callback could not find its block */
    const supervisor_allocation *issued; /* bookkeeping for owner names, see client_issued_handle */
} client_t;

typedef struct {
    client_t clients[HEAPRIG_MAX_CLIENTS];
    /* Callback runs of the current move: at most one per client. */
    client_move_note_t notes[HEAPRIG_MAX_CLIENTS];
    size_t note_count;
    pattern_corruption_t corruption;
    bool corrupted;
} clients_state_t;

static clients_state_t state;

static client_t *client_at(uint32_t client) {
    HEAPRIG_ASSERT(client < HEAPRIG_MAX_CLIENTS);
    return &state.clients[client];
}

static uint32_t client_number(const client_t *client) {
    return (uint32_t)(client - state.clients);
}

/* Where the client believes its data is: through the handle, or the raw pointer it kept. */
static uint32_t *client_data(const client_t *client) {
    if (client->kind == CLIENT_HANDLE) {
        return client->handle != NULL ? client->handle->ptr : NULL;
    }
    return client->data;
}

static pattern_t client_pattern(const client_t *client) {
    return pattern_of_client(client_number(client), client->generation);
}

static pattern_check_t check_data(const client_t *client) {
    const uint32_t *data = client_data(client);
    if (data == NULL) {
        /* The handle was emptied under the client (someone freed it): nothing is intact. */
        return (pattern_check_t){false, NULL, pattern_word(client_pattern(client), 0), 0};
    }
    return pattern_check(data, client->length, client_pattern(client));
}

static void note_corruption(const client_t *client, pattern_check_t check) {
    if (!check.intact && !state.corrupted) {
        state.corrupted = true;
        state.corruption = (pattern_corruption_t){client_pattern(client), check};
    }
}

/* ---- Move callback ------------------------------------------------------------------------ */

static void note_move(const client_t *client, const uint32_t *from, const uint32_t *to) {
    if (state.note_count < HEAPRIG_MAX_CLIENTS) {
        state.notes[state.note_count++] =
            (client_move_note_t){client_number(client), client->kind, from, to};
    }
}

static void client_moved(void *context) {
    client_t *client = context;
    uint32_t *before = client->data;
    uint32_t *now;
    if (client->kind == CLIENT_HANDLE) {
        now = client->handle->ptr;
    } else {
        supervisor_allocation *found = allocation_from_ptr(before); /* R12 */
        now = found != NULL ? found->ptr : NULL;
    }
    if (now == NULL) {
        note_move(client, before, NULL);
        client->lost = true; /* a pointer client keeps its stale pointer (SPEC D5) */
        return;
    }
    if (now != before) {
        note_move(client, before, now);
        client->data = now;
    }
    note_corruption(client, pattern_check(now, client->length, client_pattern(client)));
}

/* ---- Allocation --------------------------------------------------------------------------- */

/* Takes the result of an allocation call and, if it is a block inside the arena, fills it. */
static supervisor_allocation *client_take(client_t *client, supervisor_allocation *handle,
                                          uint32_t length, client_kind_t kind) {
    *client = (client_t){.holds = true, .kind = kind, .length = length, .issued = handle};
    if (handle == NULL || handle->ptr == NULL) {
        return handle;
    }
    client->handle = kind == CLIENT_HANDLE ? handle : NULL;
    client->data = handle->ptr;
    /* A block outside the arena is the allocator's fault, reported by the interpreter as a
     * violation; writing it could overwrite anything. */
    if (arena_holds(handle->ptr, length)) {
        pattern_fill(handle->ptr, length, client_pattern(client));
    }
    bool registered = move_callback_register(client_moved, client);
    /* One callback entry per client, and a client registers only while it holds data. */
    HEAPRIG_ASSERT(registered);
    return handle;
}

supervisor_allocation *client_alloc(uint32_t client, uint32_t length, bool high, bool movable,
                                    client_kind_t kind) {
    return client_take(client_at(client), allocate_memory(length, high, movable), length, kind);
}

supervisor_allocation *client_alloc_remaining(uint32_t client) {
    supervisor_allocation *handle = allocate_remaining_memory();
    return client_take(client_at(client), handle, (uint32_t)get_allocation_length(handle),
                       CLIENT_HANDLE);
}

pattern_check_t client_free(uint32_t number) {
    client_t *client = client_at(number);
    pattern_check_t check = {true, NULL, 0, 0};
    if (client->data == NULL) {
        free_memory(NULL); /* the allocation returned NULL: R7 */
    } else {
        if (!client->lost) {
            check = check_data(client);
            if (!check.intact) {
                return check;
            }
        }
        move_callback_unregister(client_moved, client);
        if (client->kind == CLIENT_HANDLE) {
            free_memory(client->handle);
        } else {
            free_memory(allocation_from_ptr(client->data));
        }
    }
    *client = (client_t){.holds = false};
    return check;
}

/* ---- Data --------------------------------------------------------------------------------- */

supervisor_allocation *client_from_ptr(uint32_t client) {
    return allocation_from_ptr(client_data(client_at(client)));
}

void client_write(uint32_t number) {
    client_t *client = client_at(number);
    uint32_t *data = client_data(client);
    client->generation++;
    if (data != NULL) {
        pattern_fill(data, client->length, client_pattern(client));
    }
}

pattern_check_t client_verify(uint32_t client) {
    return check_data(client_at(client));
}

bool clients_check_all(pattern_corruption_t *corruption) {
    for (uint32_t number = 0; number < HEAPRIG_MAX_CLIENTS; number++) {
        const client_t *client = &state.clients[number];
        if (!client->holds || client->lost || client->data == NULL) {
            continue;
        }
        pattern_check_t check = check_data(client);
        if (!check.intact) {
            *corruption = (pattern_corruption_t){client_pattern(client), check};
            return false;
        }
    }
    return true;
}

/* ---- Queries ------------------------------------------------------------------------------ */

void clients_reset(void) {
    state = (clients_state_t){.note_count = 0};
    move_callbacks_reset();
}

bool client_holds(uint32_t client) {
    return client_at(client)->holds;
}

bool client_holds_data(uint32_t number) {
    const client_t *client = client_at(number);
    return client->holds && client->data != NULL;
}

client_kind_t client_kind(uint32_t client) {
    return client_at(client)->kind;
}

bool client_is_lost(uint32_t client) {
    return client_at(client)->lost;
}

const supervisor_allocation *client_issued_handle(uint32_t client) {
    return client_at(client)->issued;
}

bool client_owning(const supervisor_allocation *handle, uint32_t *client) {
    if (handle == NULL) {
        return false;
    }
    for (uint32_t number = 0; number < HEAPRIG_MAX_CLIENTS; number++) {
        if (state.clients[number].holds && state.clients[number].issued == handle) {
            *client = number;
            return true;
        }
    }
    return false;
}

size_t clients_take_move_notes(const client_move_note_t **notes, pattern_corruption_t *corruption,
                               bool *corrupted) {
    *notes = state.notes;
    *corruption = state.corruption;
    *corrupted = state.corrupted;
    size_t count = state.note_count;
    state.note_count = 0;
    state.corrupted = false;
    return count;
}
