/*
 * Fuzz input -> event stream (target/PROTOCOL.md), for the native fuzzer (fuzz_board.c).
 *
 * The text protocol is strict: a mutated text stream is mostly a protocol error at its first
 * changed byte, so a fuzzer fed text spends its time in the parser. Inputs that do not start with
 * the stream header are therefore decoded, a few bytes an event, into lines that are always valid
 * where they stand; then nearly every input reaches the allocator. (Inputs that do start with the
 * header go to the parser unchanged: fuzz_board.c.)
 *
 * Byte input, all of it optional (decoding stops where the input ends, mid-event included):
 *
 *   ARENA STACK  EVENT EVENT ...
 *
 *   ARENA       a NUMBER: 16 * (b + 1)  -> 16..4080 bytes
 *   STACK       a NUMBER: b == 0 -> fixed, else 4 * b
 *   NUMBER      one byte b < 0xFF, scaled per field as shown; 0xFF: the next four bytes,
 *               little-endian, are the value itself (any value the protocol can carry)
 *   EVENT       OP [arguments]; OP's low nibble is the action, its high nibble the client or
 *               object id (0..15):
 *     0, 13     alloc ID LENGTH FLAGS   LENGTH a NUMBER: 4 * b -> 0..1016 (0: R1's case);
 *                                       FLAGS bit 0 high, bit 1 movable, bit 2 pointer client
 *     1, 14     free ID
 *     2         alloc_remaining ID
 *     3         from_ptr ID
 *     4         write ID
 *     5         verify ID
 *     6         vm_start
 *     7         vm_exit
 *     8, 15     obj_alloc ID BYTES FLAGS   BYTES a NUMBER: b + 1 -> 1..255; FLAGS bit 0 long-lived
 *     9         obj_drop ID
 *     10        collect
 *     11        stack STACK
 *     12        map
 *
 * The stream opens with the header, `build SLOTS MOVE DEBUG` (this build's variant, so that a
 * dumped stream names the variant it was found on) and `reset ARENA STACK`. An ARENA or STACK
 * the protocol rejects ends the stream there.
 *
 * Each event is checked against the state the previous events left (the decoder runs between
 * events, see fuzz_board.c) and skipped, its bytes consumed, when the interpreter would reject it
 * or the scenario format forbids it (scenarios/FORMAT.md: a name allocates again only after a
 * free, an object id is reused only after a drop), so that every decoded stream can be replayed
 * and written out as a scenario. harness/heaprig/fuzz_native.py encodes streams the other way,
 * for the seed corpus.
 */
#ifndef HEAPRIG_FUZZ_EVENT_DECODER_H
#define HEAPRIG_FUZZ_EVENT_DECODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room for the longest line the decoder makes, its '\n' and a NUL. */
#define EVENT_DECODER_LINE_CAPACITY 64u

typedef struct {
    const uint8_t *bytes;
    size_t size;
    size_t next;              /* the first byte not yet decoded */
    uint32_t opening_emitted; /* lines of the opening (header, build, reset) already made */
    bool ended;               /* an ARENA or STACK the protocol rejects ended the stream */
} event_decoder_t;

void event_decoder_init(event_decoder_t *decoder, const uint8_t *bytes, size_t size);

/* The next line, '\n'-terminated (and NUL-terminated), in `line`; returns its length without the
 * NUL, 0 when the input is used up. Call it only once the previous line's event has run: it looks
 * at the clients and the VM to skip events that are not valid now. */
size_t event_decoder_next(event_decoder_t *decoder, char line[EVENT_DECODER_LINE_CAPACITY]);

#endif
