/*
 * The event interpreter (PROTOCOL.md): heaprig_main() reads the header and then runs the stream
 * event by event; events.c carries each event out. This header is what the two share, plus the
 * current event number for fault reports.
 */
#ifndef HEAPRIG_INTERP_H
#define HEAPRIG_INTERP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdnoreturn.h>

#include "clients/pattern.h"
#include "interp/reader.h"

/* The event being run (0 while the header is read). */
uint32_t interp_current_event(void);

/* The protocol version the stream's header names (1 or 2). */
uint32_t interp_stream_version(void);

/* Called before every event with its number: a place for a debugger breakpoint
 * (`break heaprig_before_event if event_number == 7`). */
void heaprig_before_event(uint32_t event_number);

/* One event of the stream, split: `name` and its arguments. */
typedef struct {
    uint32_t number;
    uint32_t line;
    const char *name;
    size_t argument_count;
    const char *const *arguments;
} event_t;

/* Protocol errors: print `protocol_error` ("event N: NAME: " + the formatted detail; _plain
 * leaves out the name) and exit 2. Formats: see report_text_format(). */
noreturn void interp_reject(const event_t *event, const char *format, ...);
noreturn void interp_reject_plain(const event_t *event, const char *format, ...);

/* The event that opens a batch part (PROTOCOL.md): the firmware skips to it after a finding. */
#define PART_EVENT_NAME "part"

/* A `part` event: a batch part (one scenario) starts. */
void interp_begin_part(void);
/* After a finding's line (violation, corruption, a detector's): ends the run with
 * EXIT_HEAP_BROKEN, or, inside a batch part, ends that part only (PROTOCOL.md `part_end`). */
noreturn void interp_heap_broken(void);

/* Results that end the run with EXIT_HEAP_BROKEN. */
noreturn void interp_report_corruption(uint32_t event, const pattern_corruption_t *corruption);
noreturn void interp_report_violation(uint32_t event, const char *invariant, const void *where,
                                      const char *detail);
/* Ends the run: the `end` result, exit 0. */
noreturn void interp_finish(void);

/* After an allocator call: a caller error it refused becomes a `misuse` result (debug builds). */
void interp_report_misuse(uint32_t event);

/* Modes set by events. */
void interp_set_checking(bool on);
void interp_set_snapshots(bool on);
void interp_note_reset(void);
bool interp_reset_done(void);

/* --- events.c ------------------------------------------------------------------------------- */
/* Checks the event's name, arguments and preconditions (a protocol error if any is wrong), then
 * carries it out and prints its results. */
void events_run(const event_t *event);

#endif
