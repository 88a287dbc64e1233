/*
 * The native fuzzing board: platform.h for the firmware core built as an x86-64 program with
 * AddressSanitizer and UndefinedBehaviorSanitizer, running one fuzz input at a time in-process.
 *
 * One input is one run of heaprig_main() (the interpreter, unchanged):
 *   - an input that starts with "heaprig-events" is an event stream and goes to the parser as
 *     is (text mode); any other is decoded by event_decoder.h into valid events (byte mode);
 *   - the stream is handed to the reader one line at a time, so between two lines the previous
 *     event has run: there the board runs heap_check() itself (whatever `checking` says) and,
 *     under ASan, poisons the arena buffer beyond the configured arena's top;
 *   - platform_exit() comes back here (longjmp) when the run ended normally: the stream's end,
 *     or in text mode a protocol error.
 * Everything else is a finding, and the board aborts (so that libFuzzer keeps the input) after
 * one stderr line saying what broke: a heap_check() failure after an event (with the invariant's
 * name), a `violation`, `corruption` or `fault` (firmware assert) result, a protocol error in byte
 * mode (the decoder and the interpreter disagree). ASan and UBSan reports abort by themselves.
 */
#ifndef HEAPRIG_FUZZ_BOARD_H
#define HEAPRIG_FUZZ_BOARD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "platform.h"

/* Where a run's streams also go (either may be NULL). Both are flushed line by line, so after an
 * abort they hold everything up to the line that broke the run. */
typedef struct {
    FILE *events;  /* every line handed to the interpreter: a replayable event stream */
    FILE *results; /* the result lines (PROTOCOL.md) */
} fuzz_outputs_t;

/* Runs one input; returns the run's exit status (EXIT_RAN_TO_END, or EXIT_PROTOCOL_ERROR for a
 * text input the parser rejected). Never returns on a finding. */
heaprig_exit_t fuzz_run_input(const uint8_t *data, size_t size, const fuzz_outputs_t *outputs);

#endif
