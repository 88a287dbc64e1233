/*
 * The events of PROTOCOL.md, one handler each. A handler first checks everything (arguments,
 * client and VM state) through helpers that end the run with a protocol error, and only then
 * acts: nothing of a bad event is ever carried out. Then it prints the event's result line.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "clients/clients.h"
#include "heaprig_backend.h"
#include "heaprig_config.h"
#include "interp/interp.h"
#include "interp/map.h"
#include "interp/report.h"
#include "interp/rig_reset.h"
#include "rig/builds.h"
#include "supervisor/port.h"
#include "vm/arena.h"
#include "vm/vm.h"

#define MAX_NUMBER_DIGITS 10u
#define WORD_BYTES 4u

/* What must be true before an event may run. */
typedef enum {
    NEEDS_NOTHING,
    NEEDS_RESET,
} event_needs_t;

typedef struct {
    const char *name;
    const char *usage;       /* the event with its argument names, for messages */
    size_t argument_count;
    event_needs_t needs;
    void (*run)(const event_t *event);
    size_t optional_count;   /* of argument_count, how many may be left out (the last ones) */
} event_spec_t;

/* ---- Argument parsing: each returns a valid value or ends the run ------------------------- */

/* Unsigned decimal, at most 10 digits, below 2^32: `token`, a word of `event` (or part of
 * one). `what` names it in messages. */
static uint32_t token_number(const event_t *event, const char *token, const char *what) {
    uint64_t value = 0;
    size_t digits = 0;
    for (const char *c = token; *c != '\0'; c++, digits++) {
        if (*c < '0' || *c > '9') {
            interp_reject(event, "%s \"%s\" is not a number", what, token);
        }
        if (digits == MAX_NUMBER_DIGITS) {
            interp_reject(event, "%s \"%s\" has more than %u digits", what, token,
                          (uint32_t)MAX_NUMBER_DIGITS);
        }
        value = value * 10u + (uint64_t)(*c - '0');
    }
    if (value > UINT32_MAX) {
        interp_reject(event, "%s %s is too large (at most %u)", what, token, (uint32_t)UINT32_MAX);
    }
    return (uint32_t)value;
}

/* Argument `index` of `event`, as token_number() reads it. */
static uint32_t arg_number(const event_t *event, size_t index, const char *what) {
    return token_number(event, event->arguments[index], what);
}

/* One of two words: returns true for `second`. */
static bool arg_word(const event_t *event, size_t index, const char *what, const char *first,
                     const char *second) {
    const char *token = event->arguments[index];
    if (reader_token_is(token, second)) {
        return true;
    }
    if (!reader_token_is(token, first)) {
        interp_reject(event, "%s \"%s\" is not %s or %s", what, token, first, second);
    }
    return false;
}

static uint32_t arg_bit(const event_t *event, size_t index, const char *what) {
    const char *token = event->arguments[index];
    if (!reader_token_is(token, "0") && !reader_token_is(token, "1")) {
        interp_reject(event, "%s \"%s\" is not 0 or 1", what, token);
    }
    return token[0] == '1' ? 1u : 0u;
}

static uint32_t arg_client(const event_t *event, size_t index) {
    uint32_t client = arg_number(event, index, "id");
    if (client >= HEAPRIG_MAX_CLIENTS) {
        interp_reject(event, "id %u out of range (0..%u)", client,
                      (uint32_t)(HEAPRIG_MAX_CLIENTS - 1u));
    }
    return client;
}

static uint32_t arg_object(const event_t *event, size_t index) {
    uint32_t object = arg_number(event, index, "object");
    if (object >= HEAPRIG_MAX_OBJECTS) {
        interp_reject(event, "object %u out of range (0..%u)", object,
                      (uint32_t)(HEAPRIG_MAX_OBJECTS - 1u));
    }
    return object;
}

static bool arg_on_off(const event_t *event, size_t index) {
    return !arg_word(event, index, "mode", "on", "off");
}

/* `fixed` or a positive multiple of 4. */
static vm_stack_config_t arg_stack(const event_t *event, size_t index) {
    if (reader_token_is(event->arguments[index], "fixed")) {
        return (vm_stack_config_t){.fixed = true, .bytes = 0};
    }
    uint32_t bytes = arg_number(event, index, "stack");
    if (bytes == 0) {
        interp_reject(event, "stack 0: a stack takes at least %u bytes", (uint32_t)WORD_BYTES);
    }
    if (bytes % WORD_BYTES != 0) {
        interp_reject(event, "stack %u not a multiple of %u", bytes, (uint32_t)WORD_BYTES);
    }
    return (vm_stack_config_t){.fixed = false, .bytes = bytes};
}

/* ---- Preconditions ------------------------------------------------------------------------ */

static void require_vm_running(const event_t *event) {
    if (!vm_running()) {
        interp_reject(event, "no VM is running");
    }
}

static void require_vm_stopped(const event_t *event) {
    if (vm_running()) {
        interp_reject(event, "a VM is already running");
    }
}

static void require_client_free(const event_t *event, uint32_t client) {
    if (client_holds_data(client)) {
        interp_reject(event, "client %u already holds an allocation", client);
    }
}

static void require_client_holds(const event_t *event, uint32_t client) {
    if (!client_holds(client)) {
        interp_reject(event, "client %u holds no allocation", client);
    }
}

static void require_client_data(const event_t *event, uint32_t client) {
    require_client_holds(event, client);
    if (!client_holds_data(client)) {
        interp_reject(event, "client %u has no data (its allocation returned NULL)", client);
    }
}

/* ---- Shared result pieces ----------------------------------------------------------------- */

static void report_event(const char *op, const event_t *event) {
    report_begin(op);
    report_u32("ev", event->number);
}

static void report_simple(const char *op, const event_t *event) {
    report_event(op, event);
    report_end();
}

/* `"key": {"at", "len"}` of a block, or null. */
static void report_block(const char *key, supervisor_allocation *handle) {
    if (handle == NULL || handle->ptr == NULL) {
        report_null(key);
        return;
    }
    report_open_object(key);
    report_u32("at", map_block_offset(handle->ptr));
    report_u32("len", (uint32_t)get_allocation_length(handle));
    report_close_object();
}

static void fail_on_corruption(const event_t *event, pattern_t pattern, pattern_check_t check) {
    if (!check.intact) {
        pattern_corruption_t corruption = {pattern, check};
        interp_report_corruption(event->number, &corruption);
    }
}

/* The `alloc` / `alloc_remaining` result. A block not inside the arena is reported right after
 * it by the observer's detectors (`guard`, `overlap`: interp/observe.c). */
static void report_allocation(const char *op, const event_t *event, uint32_t client,
                              const supervisor_allocation *handle, uint32_t length) {
    interp_report_misuse(event->number);
    heap_region_t region;
    bool placed = handle != NULL && handle->ptr != NULL;
    report_event(op, event);
    report_u32("id", client);
    if (placed) {
        report_u32("at", map_block_offset(handle->ptr));
        if (map_locate(handle, &region)) {
            report_string("side", map_side_name(region.kind));
        }
    } else {
        report_null("at");
    }
    report_u32("len", length);
    report_end();
}

/* ---- Configuration events ----------------------------------------------------------------- */

static void event_build(const event_t *event) {
    uint32_t slots = arg_number(event, 0, "slots");
    uint32_t move = arg_bit(event, 1, "move");
    uint32_t debug = arg_bit(event, 2, "debug");
    const heaprig_build_t *build = heaprig_active_build();
    if (slots != build->slots || move != (uint32_t)build->move_support ||
        debug != (uint32_t)build->debug) {
        interp_reject_plain(event, "build mismatch: firmware has slots=%u move=%u debug=%u",
                            build->slots, (uint32_t)build->move_support, (uint32_t)build->debug);
    }
    report_simple("build", event);
}

static void event_reset(const event_t *event) {
    uint32_t arena = arg_number(event, 0, "arena");
    vm_stack_config_t stack = arg_stack(event, 1);
    if (arena % WORD_BYTES != 0) {
        interp_reject(event, "arena %u not a multiple of %u", arena, (uint32_t)WORD_BYTES);
    }
    if (arena < ARENA_MIN_BYTES || arena > HEAPRIG_ARENA_MAX) {
        interp_reject(event, "arena %u out of range (%u..%u)", arena, (uint32_t)ARENA_MIN_BYTES,
                      (uint32_t)HEAPRIG_ARENA_MAX);
    }
    rig_reset(event->number, arena, stack);
    interp_note_reset();
    interp_report_misuse(event->number);
    report_event("reset", event);
    report_u32("arena", arena);
    if (stack.fixed) {
        report_null("stack");
    } else {
        report_u32("stack", stack.bytes);
    }
    report_end();
}

static void event_budget(const event_t *event) {
    board_budget_set(arg_number(event, 0, "instructions"));
    report_simple("budget", event);
}

/* Batch streams of a multi-build image (rig/builds.h): the build the next scenario runs on.
 * Before that scenario's `reset` only, which starts every build's state afresh: a heap made by
 * one build is never handed to another. */
static void event_select_build(const event_t *event) {
    uint32_t index = arg_number(event, 0, "index");
    if (interp_reset_done()) {
        interp_reject(event, "only before the scenario's reset (after `part`, or at boot)");
    }
    if (!heaprig_select_build(index)) {
        interp_reject(event, "build %u not in this image (it holds %u)", index,
                      (uint32_t)heaprig_build_count());
    }
    report_simple("select_build", event);
}

static void event_part(const event_t *event) {
    interp_begin_part();
    report_simple("part", event);
}

static void event_checking(const event_t *event) {
    interp_set_checking(arg_on_off(event, 0));
    report_simple("checking", event);
}

static void event_snapshots(const event_t *event) {
    interp_set_snapshots(arg_on_off(event, 0));
    report_simple("snapshots", event);
}

static void event_stack(const event_t *event) {
    vm_configure_stack(arg_stack(event, 0));
    report_simple("stack", event);
}

static void event_end(const event_t *event) {
    (void)event;
    interp_finish();
}

/* ---- Client events ------------------------------------------------------------------------ */

static void event_alloc(const event_t *event) {
    uint32_t client = arg_client(event, 0);
    uint32_t length = arg_number(event, 1, "length");
    bool high = arg_word(event, 2, "side", "low", "high");
    bool movable = !arg_word(event, 3, "movable", "movable", "fixed");
    client_kind_t kind =
        arg_word(event, 4, "kind", "handle", "pointer") ? CLIENT_POINTER : CLIENT_HANDLE;
    require_client_free(event, client);
    supervisor_allocation *handle = client_alloc(client, length, high, movable, kind);
    report_allocation("alloc", event, client, handle, length);
}

static void event_alloc_remaining(const event_t *event) {
    uint32_t client = arg_client(event, 0);
    require_client_free(event, client);
    supervisor_allocation *handle = client_alloc_remaining(client);
    report_allocation("alloc_remaining", event, client, handle,
                      (uint32_t)get_allocation_length(handle));
}

static void event_free(const event_t *event) {
    uint32_t client = arg_client(event, 0);
    require_client_holds(event, client);
    fail_on_corruption(event, pattern_of_client(client, 0), client_free(client));
    interp_report_misuse(event->number);
    report_event("free", event);
    report_u32("id", client);
    report_end();
}

static void event_from_ptr(const event_t *event) {
    uint32_t client = arg_client(event, 0);
    require_client_holds(event, client);
    supervisor_allocation *found = client_from_ptr(client);
    report_event("from_ptr", event);
    report_u32("id", client);
    map_report_owner("found", map_owner_of(found));
    report_end();
}

static void event_write(const event_t *event) {
    uint32_t client = arg_client(event, 0);
    require_client_data(event, client);
    client_write(client);
    report_simple("write", event);
}

static void event_verify(const event_t *event) {
    uint32_t client = arg_client(event, 0);
    require_client_data(event, client);
    fail_on_corruption(event, pattern_of_client(client, 0), client_verify(client));
    report_simple("verify", event);
}

/* ---- VM events ---------------------------------------------------------------------------- */

static void event_vm_start(const event_t *event) {
    require_vm_stopped(event);
    vm_start();
    interp_report_misuse(event->number);
    report_event("vm_start", event);
    report_block("heap", vm_heap_allocation());
    report_block("stack", vm_stack_allocation());
    report_end();
}

static void report_callbacks(const event_t *event) {
    const client_move_note_t *notes;
    pattern_corruption_t corruption;
    bool corrupted;
    size_t count = clients_take_move_notes(&notes, &corruption, &corrupted);
    for (size_t i = 0; i < count; i++) {
        report_event("callback", event);
        report_u32("id", notes[i].client);
        report_string("kind", notes[i].kind == CLIENT_HANDLE ? "handle" : "pointer");
        report_u32("from", map_block_offset(notes[i].from));
        if (notes[i].to != NULL) {
            report_u32("to", map_block_offset(notes[i].to));
        } else {
            report_null("to");
        }
        report_end();
    }
    if (corrupted) {
        interp_report_corruption(event->number, &corruption);
    }
}

static void event_vm_exit(const event_t *event) {
    require_vm_running(event);
    map_snapshot_blocks();
    pattern_corruption_t corruption;
    if (!vm_exit(&corruption)) {
        interp_report_corruption(event->number, &corruption);
    }
    interp_report_misuse(event->number);
    map_report_moves(event->number);
    report_callbacks(event);
    report_simple("vm_exit", event);
}

static void event_obj_alloc(const event_t *event) {
    uint32_t object = arg_object(event, 0);
    uint32_t bytes = arg_number(event, 1, "bytes");
    bool long_lived = arg_word(event, 2, "lifetime", "short", "long");
    require_vm_running(event);
    if (bytes == 0) {
        interp_reject(event, "bytes 0: an object takes at least 1 byte");
    }
    if (vm_object_live(object)) {
        interp_reject(event, "object %u already exists", object);
    }
    void *data = vm_object_alloc(object, bytes, long_lived);
    report_event("obj_alloc", event);
    report_u32("id", object);
    if (data != NULL) {
        report_u32("at", arena_offset(data));
    } else {
        report_null("at");
    }
    report_end();
}

static void event_obj_drop(const event_t *event) {
    uint32_t object = arg_object(event, 0);
    require_vm_running(event);
    if (!vm_object_held(object)) {
        interp_reject(event, "object %u does not exist", object);
    }
    fail_on_corruption(event, pattern_of_object(object), vm_object_drop(object));
    report_simple("obj_drop", event);
}

static void event_collect(const event_t *event) {
    require_vm_running(event);
    uint32_t freed = vm_collect();
    report_event("collect", event);
    report_u32("freed", freed);
    report_end();
}

static void event_map(const event_t *event) {
    map_report(event->number);
}

/* ---- Fault injection --------------------------------------------------------------------- */

#if HEAPRIG_POKE
/* `poke OFFSET VALUE [OFFSET VALUE [OFFSET VALUE]]` (version 2): what a driver scribbling over the
 * heap does. All writes land before the detectors and the checker look, so a corruption that
 * needs several words changed at once (relinking a list) is seen only complete. */
#define POKE_WRITES_MAX 3u
#define POKE_ARGUMENTS_PER_WRITE 2u /* OFFSET VALUE */
/* The protocol version that added the event: a version 1 stream may not poke. */
#define POKE_PROTOCOL_VERSION 2u
#define POKE_NULL_WORD "null"
#define POKE_ADDRESS_MARK '@'

typedef struct {
    uint32_t offset;
    bool pointer;       /* a pointer-sized write (an address or NULL), else a 32-bit word */
    uint32_t word;      /* the word, or the arena offset whose address is written */
    bool null;
} poke_write_t;

static poke_write_t arg_poke_write(const event_t *event, size_t index) {
    poke_write_t write = {.offset = arg_number(event, index, "offset")};
    const char *value = event->arguments[index + 1];
    if (reader_token_is(value, POKE_NULL_WORD)) {
        write.pointer = true;
        write.null = true;
    } else if (value[0] == POKE_ADDRESS_MARK) {
        write.pointer = true;
        write.word = token_number(event, value + 1, "address offset");
        if (write.word > arena_size()) {
            interp_reject(event, "address offset %u outside the arena (0..%u)", write.word,
                          arena_size());
        }
    } else {
        write.word = arg_number(event, index + 1, "word");
    }
    uint32_t bytes = write.pointer ? (uint32_t)sizeof(void *) : WORD_BYTES;
    if (write.offset % bytes != 0) {
        interp_reject(event, "offset %u not a multiple of %u", write.offset, bytes);
    }
    if (write.offset > arena_size() || arena_size() - write.offset < bytes) {
        interp_reject(event, "offset %u: %u bytes there are not inside the arena (%u bytes)",
                      write.offset, bytes, arena_size());
    }
    return write;
}

static void event_poke(const event_t *event) {
    if (interp_stream_version() < POKE_PROTOCOL_VERSION) {
        interp_reject(event, "needs a version 2 stream (header \"heaprig-events 2\")");
    }
    if (event->argument_count % POKE_ARGUMENTS_PER_WRITE != 0) {
        interp_reject(event, "an offset without a value (usage: poke OFFSET VALUE ...)");
    }
    poke_write_t writes[POKE_WRITES_MAX];
    size_t count = event->argument_count / POKE_ARGUMENTS_PER_WRITE;
    for (size_t i = 0; i < count; i++) {
        writes[i] = arg_poke_write(event, POKE_ARGUMENTS_PER_WRITE * i);
    }
    char *bottom = (char *)port_heap_get_bottom();
    for (size_t i = 0; i < count; i++) {
        char *at = bottom + writes[i].offset;
        if (!writes[i].pointer) {
            uint32_t word = writes[i].word;
            memcpy(at, &word, sizeof(word));
        } else {
            void *address = writes[i].null ? NULL : bottom + writes[i].word;
            memcpy(at, &address, sizeof(address));
        }
    }
    report_simple("poke", event);
}
#endif

/* ---- The table ---------------------------------------------------------------------------- */

static const event_spec_t event_specs[] = {
    {"build", "build SLOTS MOVE DEBUG", 3, NEEDS_NOTHING, event_build, 0},
    {"reset", "reset ARENA STACK", 2, NEEDS_NOTHING, event_reset, 0},
    {PART_EVENT_NAME, PART_EVENT_NAME, 0, NEEDS_NOTHING, event_part, 0},
    {"budget", "budget INSTRUCTIONS", 1, NEEDS_NOTHING, event_budget, 0},
    {"select_build", "select_build INDEX", 1, NEEDS_NOTHING, event_select_build, 0},
    {"checking", "checking on|off", 1, NEEDS_NOTHING, event_checking, 0},
    {"snapshots", "snapshots on|off", 1, NEEDS_NOTHING, event_snapshots, 0},
    {"stack", "stack BYTES|fixed", 1, NEEDS_NOTHING, event_stack, 0},
    {"alloc", "alloc ID LENGTH SIDE MOVABLE KIND", 5, NEEDS_RESET, event_alloc, 0},
    {"alloc_remaining", "alloc_remaining ID", 1, NEEDS_RESET, event_alloc_remaining, 0},
    {"free", "free ID", 1, NEEDS_RESET, event_free, 0},
    {"from_ptr", "from_ptr ID", 1, NEEDS_RESET, event_from_ptr, 0},
    {"write", "write ID", 1, NEEDS_RESET, event_write, 0},
    {"verify", "verify ID", 1, NEEDS_RESET, event_verify, 0},
    {"vm_start", "vm_start", 0, NEEDS_RESET, event_vm_start, 0},
    {"vm_exit", "vm_exit", 0, NEEDS_RESET, event_vm_exit, 0},
    {"obj_alloc", "obj_alloc OBJ BYTES short|long", 3, NEEDS_RESET, event_obj_alloc, 0},
    {"obj_drop", "obj_drop OBJ", 1, NEEDS_RESET, event_obj_drop, 0},
    {"collect", "collect", 0, NEEDS_RESET, event_collect, 0},
    {"map", "map", 0, NEEDS_RESET, event_map, 0},
#if HEAPRIG_POKE
    {"poke", "poke OFFSET VALUE [OFFSET VALUE [OFFSET VALUE]]",
     POKE_ARGUMENTS_PER_WRITE * POKE_WRITES_MAX, NEEDS_RESET, event_poke,
     POKE_ARGUMENTS_PER_WRITE * (POKE_WRITES_MAX - 1u)},
#endif
    {"end", "end", 0, NEEDS_NOTHING, event_end, 0},
};

#define EVENT_SPEC_COUNT (sizeof(event_specs) / sizeof(event_specs[0]))

void events_run(const event_t *event) {
    const event_spec_t *spec = NULL;
    for (size_t i = 0; i < EVENT_SPEC_COUNT && spec == NULL; i++) {
        if (reader_token_is(event->name, event_specs[i].name)) {
            spec = &event_specs[i];
        }
    }
    if (spec == NULL) {
        interp_reject_plain(event, "unknown event \"%s\"", event->name);
    }
    if (event->argument_count > spec->argument_count) {
        interp_reject(event, "too many arguments (usage: %s)", spec->usage);
    }
    if (event->argument_count < spec->argument_count - spec->optional_count) {
        interp_reject(event, "missing arguments (usage: %s)", spec->usage);
    }
    if (spec->needs == NEEDS_RESET && !interp_reset_done()) {
        interp_reject(event, "event before reset");
    }
    spec->run(event);
}
