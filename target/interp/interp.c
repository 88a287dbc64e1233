/*
 * The interpreter's main loop: the `ready` line, the header, then for every event: split, hook,
 * run (events.c), and in checking mode the invariant checker and every data pattern; in snapshot
 * mode a map. Every way the run can end is here: `end`, protocol error, violation, corruption.
 */
#include "interp/interp.h"

#include <setjmp.h>
#include <stdarg.h>

#include "clients/clients.h"
#include "heaprig_backend.h"
#include "heaprig_config.h"
#include "interp/map.h"
#include "interp/observe.h"
#include "interp/report.h"
#include "interp/walker_check.h"
#include "platform.h"
#include "rig/builds.h"
#include "vm/arena.h"
#include "vm/vm.h"

/* The version this firmware speaks. Version 2 added `poke`; a stream may still say 1 (it then
 * cannot poke), so every stream written for version 1 runs unchanged. */
#define PROTOCOL_VERSION ((uint32_t)2)
#define PROTOCOL_VERSION_1 ((uint32_t)1)
#define PROTOCOL_VERSION_TOKEN "2"
#define PROTOCOL_VERSION_1_TOKEN "1"
#define HEADER_WORD "heaprig-events"

typedef struct {
    uint32_t current_event;
    uint32_t events_read;
    uint32_t stream_version; /* what the stream's header says */
    bool checking;
    bool snapshots;
    bool reset_done;
    /* Batch streams (PROTOCOL.md `part`): inside a part, a finding ends that part only; the run
     * comes back to heaprig_main() through `part_ended` and skips to the next `part`. */
    bool in_part;
    bool skipping_to_part;
    jmp_buf part_ended;
} interp_t;

/* Set by heaprig_main() at the start of every run, so that a board may run several streams in
 * one process (the native fuzzer, target/board/fuzz/, runs one per input). */
static interp_t interp;

uint32_t interp_current_event(void) {
    return interp.current_event;
}

uint32_t interp_stream_version(void) {
    return interp.stream_version;
}

void interp_set_checking(bool on) {
    interp.checking = on;
}

void interp_set_snapshots(bool on) {
    interp.snapshots = on;
}

void interp_begin_part(void) {
    interp.in_part = true;
    /* The part is a scenario of its own: no heap until its `reset`, as on a fresh boot (and the
     * checks after its first events do not look at the last part's heap, maybe broken). */
    interp.reset_done = false;
}

noreturn void interp_heap_broken(void) {
    if (!interp.in_part) {
        platform_exit(EXIT_HEAP_BROKEN);
    }
    /* The finding's line is out; the part ends as a boot of its own would have (status 3) and
     * the next part's `reset` brings every state back to boot, proven (rig_reset.c). A finding
     * always comes from the checks after an event, never from inside an allocator call, so no
     * backend state is left half-changed by the jump. */
    report_begin("part_end");
    report_u32("status", (uint32_t)EXIT_HEAP_BROKEN);
    report_end();
    interp.in_part = false;
    longjmp(interp.part_ended, 1);
}

void interp_note_reset(void) {
    interp.reset_done = true;
    observe_reset(); /* hook: the observer's guards and layout start over with the arena */
}

bool interp_reset_done(void) {
    return interp.reset_done;
}

__attribute__((noinline, used)) void heaprig_before_event(uint32_t event_number) {
    /* Keeps the call and its argument even at -O2: it exists to be broken on. */
    __asm__ volatile("" : : "r"(event_number) : "memory");
}

/* ---- Ends of the run ---------------------------------------------------------------------- */

static noreturn void protocol_error(uint32_t event, uint32_t line, const report_text_t *message,
                                    heaprig_exit_t status) {
    report_begin("protocol_error");
    report_u32("ev", event);
    report_u32("line", line);
    report_string("message", message->chars);
    report_end();
    platform_exit(status);
}

/* "event N: " and, for errors about a known event, its name. */
static void message_start(report_text_t *message, uint32_t event, const char *name) {
    report_text_clear(message);
    report_text_format(message, "event %u: ", event);
    if (name != NULL) {
        report_text_format(message, "%s: ", name);
    }
}

/* An error about the line just read, before it is an event (header, characters, length). */
static noreturn void reject_line(uint32_t event, const char *format, ...) {
    report_text_t message;
    message_start(&message, event, NULL);
    va_list arguments;
    va_start(arguments, format);
    report_text_vformat(&message, format, arguments);
    va_end(arguments);
    protocol_error(event, reader_line_number(), &message, EXIT_PROTOCOL_ERROR);
}

void interp_reject(const event_t *event, const char *format, ...) {
    report_text_t message;
    message_start(&message, event->number, event->name);
    va_list arguments;
    va_start(arguments, format);
    report_text_vformat(&message, format, arguments);
    va_end(arguments);
    protocol_error(event->number, event->line, &message, EXIT_PROTOCOL_ERROR);
}

void interp_reject_plain(const event_t *event, const char *format, ...) {
    report_text_t message;
    message_start(&message, event->number, NULL);
    va_list arguments;
    va_start(arguments, format);
    report_text_vformat(&message, format, arguments);
    va_end(arguments);
    protocol_error(event->number, event->line, &message, EXIT_PROTOCOL_ERROR);
}

static void report_offset_or_null(const char *key, const void *address) {
    if (address != NULL && arena_holds(address, 0)) {
        report_u32(key, arena_offset(address));
    } else {
        report_null(key);
    }
}

void interp_report_corruption(uint32_t event, const pattern_corruption_t *corruption) {
    report_begin("corruption");
    report_u32("ev", event);
    if (pattern_owner_is_object(corruption->pattern.owner)) {
        /* VM objects live in the GC heap: the heap owns them; `object` says which one. */
        report_string("owner", "heap");
        report_u32("object", corruption->pattern.owner - PATTERN_OBJECT_OWNER_BASE);
    } else {
        report_u32("owner", corruption->pattern.owner);
    }
    report_offset_or_null("at", corruption->check.where);
    report_u32("expected", corruption->check.expected);
    if (corruption->check.where != NULL) {
        report_u32("found", corruption->check.found);
    } else {
        report_null("found"); /* the data is gone: its handle was emptied */
    }
    report_end();
    interp_heap_broken();
}

void interp_report_violation(uint32_t event, const char *invariant, const void *where,
                             const char *detail) {
    report_begin("violation");
    report_u32("ev", event);
    report_string("invariant", invariant);
    report_offset_or_null("at", where);
    report_string("detail", detail);
    report_end();
    interp_heap_broken();
}

void interp_finish(void) {
    report_begin("end");
    report_u32("events", interp.events_read);
    report_end();
    platform_exit(EXIT_RAN_TO_END);
}

void interp_report_misuse(uint32_t event) {
    const char *message = supervisor_heap_take_misuse();
    if (message != NULL) {
        report_begin("misuse");
        report_u32("ev", event);
        report_string("message", message);
        report_end();
    }
}

/* ---- After every event -------------------------------------------------------------------- */

/* The default backend's own checker (an extra: a foreign backend may have none), the data
 * patterns, and the backend's own walker, after the backend-neutral detectors
 * (observe_after_event). */
static void check_heap(uint32_t event) {
    heap_check_result_t result = heap_check();
    if (result.invariant != NULL) {
        interp_report_violation(event, result.invariant, result.where,
                                result.detail != NULL ? result.detail : "");
    }
    pattern_corruption_t corruption;
    if (!clients_check_all(&corruption) || !vm_check_objects(&corruption)) {
        interp_report_corruption(event, &corruption);
    }
    /* Last: a walker that misreports a heap every other check found sound. */
    walker_check(event);
}

static void after_event(const event_t *event) {
    interp_report_misuse(event->number);
    if (!interp.reset_done) {
        return; /* no heap yet */
    }
    observe_after_event(event, interp.checking); /* hook: backend-neutral detectors */
    if (interp.checking) {
        check_heap(event->number);
    }
    if (interp.snapshots) {
        map_report(event->number);
    }
}

/* ---- Reading the stream ------------------------------------------------------------------- */

static void report_ready(void) {
    report_begin("ready");
    report_u32("version", PROTOCOL_VERSION);
    if (heaprig_build_count() == 1) {
        const heaprig_build_t *build = heaprig_build_at(0);
        report_u32("slots", build->slots);
        report_u32("move", (uint32_t)build->move_support);
        report_u32("debug", (uint32_t)build->debug);
    } else {
        /* A multi-build image: `select_build` picks one for each scenario (PROTOCOL.md). */
        report_u32("builds", (uint32_t)heaprig_build_count());
    }
    report_u32("arena_max", HEAPRIG_ARENA_MAX);
    report_end();
}

/* The next line that is not blank or a comment, split; false at the end of the stream.
 * `event` is the number the line would have, for error messages. */
static bool next_tokens(uint32_t event, line_tokens_t *tokens) {
    for (;;) {
        switch (reader_next_line()) {
        case READ_END:
            return false;
        case READ_FAILED: {
            report_text_t message;
            message_start(&message, event, NULL);
            report_text_format(&message, "the event stream cannot be read");
            protocol_error(event, reader_line_number(), &message, EXIT_CANNOT_START);
        }
        case READ_TOO_LONG:
            reject_line(event, "line too long (more than %u characters)",
                        (uint32_t)READER_LINE_MAX);
        case READ_LINE:
            break;
        }
        *tokens = reader_split();
        switch (tokens->kind) {
        case LINE_IGNORED:
            continue;
        case LINE_BAD_CHAR:
            reject_line(event, "byte %u in column %u is not printable ASCII",
                        (uint32_t)tokens->bad_char, tokens->bad_column);
        case LINE_TOO_MANY:
            reject_line(event, "too many arguments");
        case LINE_TOKENS:
            return true;
        }
    }
}

static void read_header(void) {
    line_tokens_t tokens;
    if (!next_tokens(0, &tokens) || !reader_token_is(tokens.tokens[0], HEADER_WORD) ||
        tokens.count < 2) {
        reject_line(0, "missing header (the first line must be \"" HEADER_WORD " %u\")",
                    PROTOCOL_VERSION);
    }
    if (reader_token_is(tokens.tokens[1], PROTOCOL_VERSION_TOKEN)) {
        interp.stream_version = PROTOCOL_VERSION;
    } else if (reader_token_is(tokens.tokens[1], PROTOCOL_VERSION_1_TOKEN)) {
        interp.stream_version = PROTOCOL_VERSION_1;
    } else {
        reject_line(0, "unsupported version %s (this firmware speaks %u and %u)",
                    tokens.tokens[1], PROTOCOL_VERSION_1, PROTOCOL_VERSION);
    }
    if (tokens.count > 2) {
        reject_line(0, "too many arguments");
    }
}

noreturn void heaprig_main(void) {
    interp = (interp_t){.checking = true};
    report_ready();
    reader_init();
    read_header();
    if (setjmp(interp.part_ended) != 0) {
        interp.skipping_to_part = true; /* a finding ended a batch part: on to the next one */
    }
    line_tokens_t tokens;
    while (next_tokens(interp.events_read + 1, &tokens)) {
        event_t event = {
            .number = ++interp.events_read,
            .line = reader_line_number(),
            .name = tokens.tokens[0],
            .argument_count = tokens.count - 1,
            .arguments = &tokens.tokens[1],
        };
        if (interp.skipping_to_part) {
            if (!reader_token_is(event.name, PART_EVENT_NAME)) {
                continue; /* still counted: event numbers stay those of the stream */
            }
            interp.skipping_to_part = false;
        }
        interp.current_event = event.number;
        heaprig_before_event(event.number);
        observe_before_event(&event); /* hook: what the event asks the allocator for */
        events_run(&event);
        after_event(&event);
    }
    interp_finish();
}
