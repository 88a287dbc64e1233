/*
 * The byte input decoder of event_decoder.h: the format is described there.
 */
#include "board/fuzz/event_decoder.h"

#include <stdarg.h>
#include <stdio.h>

#include "clients/clients.h"
#include "heaprig_config.h"
#include "vm/arena.h"
#include "vm/vm.h"

#define HEADER_LINE "heaprig-events 1\n"
/* Header, build, reset. */
#define OPENING_LINES 3u

#define LITERAL_MARKER 0xFFu
#define LITERAL_BYTES 4u
#define BITS_PER_BYTE 8u
#define WORD_BYTES 4u
#define ARENA_SCALE 16u
#define STACK_SCALE 4u
#define LENGTH_SCALE 4u
#define STACK_FIXED_BYTE 0u

#define ACTION_MASK 0x0Fu
#define ID_SHIFT 4u
#define ALLOC_FLAG_HIGH 0x1u
#define ALLOC_FLAG_MOVABLE 0x2u
#define ALLOC_FLAG_POINTER 0x4u
#define OBJ_FLAG_LONG_LIVED 0x1u

typedef enum {
    ACTION_ALLOC,
    ACTION_FREE,
    ACTION_ALLOC_REMAINING,
    ACTION_FROM_PTR,
    ACTION_WRITE,
    ACTION_VERIFY,
    ACTION_VM_START,
    ACTION_VM_EXIT,
    ACTION_OBJ_ALLOC,
    ACTION_OBJ_DROP,
    ACTION_COLLECT,
    ACTION_STACK,
    ACTION_MAP,
} action_t;

/* OP's low nibble -> action. The three spare codes repeat the actions that build up a heap, so
 * that random bytes allocate a little more often than they do anything else. */
static const action_t actions[ACTION_MASK + 1u] = {
    ACTION_ALLOC,    ACTION_FREE,     ACTION_ALLOC_REMAINING, ACTION_FROM_PTR,
    ACTION_WRITE,    ACTION_VERIFY,   ACTION_VM_START,        ACTION_VM_EXIT,
    ACTION_OBJ_ALLOC, ACTION_OBJ_DROP, ACTION_COLLECT,        ACTION_STACK,
    ACTION_MAP,      ACTION_ALLOC,    ACTION_FREE,            ACTION_OBJ_ALLOC,
};

/* Ids fit the high nibble, and the protocol takes them all. */
_Static_assert((0xFFu >> ID_SHIFT) < HEAPRIG_MAX_CLIENTS, "client ids 0..15 are valid");
_Static_assert((0xFFu >> ID_SHIFT) < HEAPRIG_MAX_OBJECTS, "object ids 0..15 are valid");

/* How a NUMBER's single byte is scaled. */
typedef enum {
    SCALE_ARENA,
    SCALE_STACK,
    SCALE_LENGTH,
    SCALE_OBJECT_BYTES,
} scale_t;

/* ---- Reading bytes ------------------------------------------------------------------------ */

static bool take_byte(event_decoder_t *decoder, uint8_t *byte) {
    if (decoder->next == decoder->size) {
        return false;
    }
    *byte = decoder->bytes[decoder->next++];
    return true;
}

static uint32_t scaled(uint8_t byte, scale_t scale) {
    switch (scale) {
    case SCALE_ARENA:
        return ARENA_SCALE * ((uint32_t)byte + 1u);
    case SCALE_STACK:
        return STACK_SCALE * (uint32_t)byte;
    case SCALE_LENGTH:
        return LENGTH_SCALE * (uint32_t)byte;
    case SCALE_OBJECT_BYTES:
        break;
    }
    return (uint32_t)byte + 1u;
}

/* A NUMBER (event_decoder.h); false if the input ends inside it. */
static bool take_number(event_decoder_t *decoder, scale_t scale, uint32_t *value) {
    uint8_t byte;
    if (!take_byte(decoder, &byte)) {
        return false;
    }
    if (byte != LITERAL_MARKER) {
        *value = scaled(byte, scale);
        return true;
    }
    *value = 0;
    for (uint32_t i = 0; i < LITERAL_BYTES; i++) {
        if (!take_byte(decoder, &byte)) {
            return false;
        }
        *value |= (uint32_t)byte << (BITS_PER_BYTE * i);
    }
    return true;
}

/* A STACK: byte 0 is `fixed`; any other value must be a positive multiple of 4 (`valid`). */
static bool take_stack(event_decoder_t *decoder, vm_stack_config_t *stack, bool *valid) {
    size_t start = decoder->next;
    uint32_t bytes;
    if (!take_number(decoder, SCALE_STACK, &bytes)) {
        return false;
    }
    bool fixed = decoder->next == start + 1u && decoder->bytes[start] == STACK_FIXED_BYTE;
    *stack = (vm_stack_config_t){.fixed = fixed, .bytes = bytes};
    *valid = fixed || (bytes != 0 && bytes % WORD_BYTES == 0);
    return true;
}

/* ---- Making lines ------------------------------------------------------------------------- */

__attribute__((format(printf, 2, 3))) static size_t
line_printf(char line[EVENT_DECODER_LINE_CAPACITY], const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    int length = vsnprintf(line, EVENT_DECODER_LINE_CAPACITY, format, arguments);
    va_end(arguments);
    /* Every format here fits: a longer line would be a decoder bug, not an input's fault. */
    if (length < 0 || (size_t)length >= EVENT_DECODER_LINE_CAPACITY) {
        line[0] = '\0';
        return 0;
    }
    return (size_t)length;
}

static const char *stack_word(vm_stack_config_t stack, char buffer[EVENT_DECODER_LINE_CAPACITY]) {
    if (stack.fixed) {
        return "fixed";
    }
    snprintf(buffer, EVENT_DECODER_LINE_CAPACITY, "%u", (unsigned)stack.bytes);
    return buffer;
}

static size_t opening_line(event_decoder_t *decoder, char line[EVENT_DECODER_LINE_CAPACITY]) {
    switch (decoder->opening_emitted++) {
    case 0:
        return line_printf(line, "%s", HEADER_LINE);
    case 1:
        return line_printf(line, "build %u %u %u\n", (unsigned)SUPERVISOR_SLOTS,
                           (unsigned)SUPERVISOR_MOVE_SUPPORT, (unsigned)HEAPRIG_DEBUG);
    default:
        break;
    }
    uint32_t arena;
    vm_stack_config_t stack;
    bool stack_valid;
    if (!take_number(decoder, SCALE_ARENA, &arena) || !take_stack(decoder, &stack, &stack_valid) ||
        !stack_valid || arena % WORD_BYTES != 0 || arena < ARENA_MIN_BYTES ||
        arena > HEAPRIG_ARENA_MAX) {
        decoder->ended = true;
        return 0;
    }
    char word[EVENT_DECODER_LINE_CAPACITY];
    return line_printf(line, "reset %u %s\n", (unsigned)arena, stack_word(stack, word));
}

/* ---- Events ------------------------------------------------------------------------------- */

/* The next event valid where it stands, skipping the others; 0 at the end of the input. */
static size_t next_event(event_decoder_t *decoder, char line[EVENT_DECODER_LINE_CAPACITY]) {
    uint8_t op;
    while (take_byte(decoder, &op)) {
        uint32_t id = (uint32_t)op >> ID_SHIFT;
        uint32_t value;
        uint8_t flags;
        switch (actions[op & ACTION_MASK]) {
        case ACTION_ALLOC:
            if (!take_number(decoder, SCALE_LENGTH, &value) || !take_byte(decoder, &flags)) {
                return 0;
            }
            if (!client_holds(id)) {
                return line_printf(line, "alloc %u %u %s %s %s\n", (unsigned)id, (unsigned)value,
                                   (flags & ALLOC_FLAG_HIGH) != 0 ? "high" : "low",
                                   (flags & ALLOC_FLAG_MOVABLE) != 0 ? "movable" : "fixed",
                                   (flags & ALLOC_FLAG_POINTER) != 0 ? "pointer" : "handle");
            }
            break;
        case ACTION_FREE:
            if (client_holds(id)) {
                return line_printf(line, "free %u\n", (unsigned)id);
            }
            break;
        case ACTION_ALLOC_REMAINING:
            if (!client_holds(id)) {
                return line_printf(line, "alloc_remaining %u\n", (unsigned)id);
            }
            break;
        case ACTION_FROM_PTR:
            if (client_holds(id)) {
                return line_printf(line, "from_ptr %u\n", (unsigned)id);
            }
            break;
        case ACTION_WRITE:
            if (client_holds_data(id)) {
                return line_printf(line, "write %u\n", (unsigned)id);
            }
            break;
        case ACTION_VERIFY:
            if (client_holds_data(id)) {
                return line_printf(line, "verify %u\n", (unsigned)id);
            }
            break;
        case ACTION_VM_START:
            if (!vm_running()) {
                return line_printf(line, "vm_start\n");
            }
            break;
        case ACTION_VM_EXIT:
            if (vm_running()) {
                return line_printf(line, "vm_exit\n");
            }
            break;
        case ACTION_OBJ_ALLOC:
            if (!take_number(decoder, SCALE_OBJECT_BYTES, &value) || !take_byte(decoder, &flags)) {
                return 0;
            }
            if (vm_running() && !vm_object_held(id) && value != 0) {
                return line_printf(line, "obj_alloc %u %u %s\n", (unsigned)id, (unsigned)value,
                                   (flags & OBJ_FLAG_LONG_LIVED) != 0 ? "long" : "short");
            }
            break;
        case ACTION_OBJ_DROP:
            if (vm_running() && vm_object_held(id)) {
                return line_printf(line, "obj_drop %u\n", (unsigned)id);
            }
            break;
        case ACTION_COLLECT:
            if (vm_running()) {
                return line_printf(line, "collect\n");
            }
            break;
        case ACTION_STACK: {
            vm_stack_config_t stack;
            bool valid;
            if (!take_stack(decoder, &stack, &valid)) {
                return 0;
            }
            if (valid) {
                char word[EVENT_DECODER_LINE_CAPACITY];
                return line_printf(line, "stack %s\n", stack_word(stack, word));
            }
            break;
        }
        case ACTION_MAP:
            return line_printf(line, "map\n");
        }
    }
    return 0;
}

/* ---- Public ------------------------------------------------------------------------------- */

void event_decoder_init(event_decoder_t *decoder, const uint8_t *bytes, size_t size) {
    *decoder = (event_decoder_t){.bytes = bytes, .size = size};
}

size_t event_decoder_next(event_decoder_t *decoder, char line[EVENT_DECODER_LINE_CAPACITY]) {
    line[0] = '\0';
    if (decoder->ended) {
        return 0;
    }
    if (decoder->opening_emitted < OPENING_LINES) {
        return opening_line(decoder, line);
    }
    return next_event(decoder, line);
}
