/*
 * Clients of the supervisor heap (SPEC §3): the C code that keeps buffers alive across VM runs.
 *
 * - A *handle client* (like a terminal tile grid) keeps the supervisor_allocation handle and
 *   re-reads its `ptr` whenever it touches the data, and in its move callback.
 * - A *pointer client* (like a display framebuffer) keeps only the raw data pointer. Its move
 *   callback maps old -> new with allocation_from_ptr(old) (R12); if that finds nothing, the
 *   client is *lost* and keeps its stale pointer (SPEC D5), exactly as such a driver would.
 *
 * Both register a real move callback while they hold an allocation. Every callback run whose
 * address changed, or that lost its block, is noted for the `callback` results; every callback run
 * checks the data pattern (R15).
 */
#ifndef HEAPRIG_CLIENTS_H
#define HEAPRIG_CLIENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clients/pattern.h"
#include "supervisor/memory.h"

typedef enum {
    CLIENT_HANDLE,
    CLIENT_POINTER,
} client_kind_t;

/* One callback run that saw the block move, or lost it (`to` NULL). */
typedef struct {
    uint32_t client;
    client_kind_t kind;
    const uint32_t *from; /* data pointers */
    const uint32_t *to;
} client_move_note_t;

/* Forgets every client and its move callback. */
void clients_reset(void);

/* Holds the result of an allocation, NULL results included: `free` is legal. */
bool client_holds(uint32_t client);
/* Holds a non-NULL allocation: `alloc` is illegal, `write`/`verify` are legal. */
bool client_holds_data(uint32_t client);
client_kind_t client_kind(uint32_t client);
/* Has a move callback failed to find this pointer client's block? */
bool client_is_lost(uint32_t client);

/* allocate_memory() on behalf of the client; the data gets its pattern. Returns the handle. */
supervisor_allocation *client_alloc(uint32_t client, uint32_t length, bool high, bool movable,
                                    client_kind_t kind);
/* allocate_remaining_memory() on behalf of a handle client. */
supervisor_allocation *client_alloc_remaining(uint32_t client);
/* Checks the data, and only if it is intact frees it (a pointer client frees
 * allocation_from_ptr(its pointer)). */
pattern_check_t client_free(uint32_t client);
/* allocation_from_ptr(the client's current data pointer). */
supervisor_allocation *client_from_ptr(uint32_t client);
/* Rewrites the data with the next generation of the pattern. */
void client_write(uint32_t client);
pattern_check_t client_verify(uint32_t client);
/* Checks every client holding data, lost ones excepted; the first corruption, if any. */
bool clients_check_all(pattern_corruption_t *corruption);

/* The handle allocate_memory() gave the client, for naming owners in results only (a pointer
 * client itself never uses it). NULL if none. */
const supervisor_allocation *client_issued_handle(uint32_t client);
/* The client that was given `handle`; false if none. */
bool client_owning(const supervisor_allocation *handle, uint32_t *client);

/* Notes of the callback runs since the last call, in the order they ran. Also returns the first
 * corruption a callback found, if any. */
size_t clients_take_move_notes(const client_move_note_t **notes, pattern_corruption_t *corruption,
                               bool *corrupted);

#endif
