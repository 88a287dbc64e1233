/*
 * The native fuzzing board (fuzz_board.h): the stream fed line by line, checks between events,
 * findings turned into aborts.
 */
#include "board/fuzz/fuzz_board.h"

#include <sanitizer/asan_interface.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "board/fuzz/event_decoder.h"
#include "heaprig_config.h"
#include "interp/interp.h"
#include "interp/rig_reset.h"
#include "supervisor/port.h"
#include "supervisor_heap.h"
#include "vm/arena.h"

/* Bugs planted on purpose, for the test that proves the fuzzer finds them: see planted_bug(). */
#define PLANTED_NONE 0
#define PLANTED_WRITE_PAST_TOP 1
#define PLANTED_HANDLE_SHIFTED 2
#ifndef HEAPRIG_FUZZ_PLANTED_BUG
#define HEAPRIG_FUZZ_PLANTED_BUG PLANTED_NONE
#endif
_Static_assert(HEAPRIG_FUZZ_PLANTED_BUG >= PLANTED_NONE &&
                   HEAPRIG_FUZZ_PLANTED_BUG <= PLANTED_HANDLE_SHIFTED,
               "HEAPRIG_FUZZ_PLANTED_BUG is 0, 1 or 2");

/* An input starting with this is an event stream for the parser (text mode). */
#define TEXT_MODE_PREFIX "heaprig-events"
#define RESET_EVENT "reset"
/* Enough of a result line to name what broke; longer lines (big maps) are cut. */
#define LAST_RESULT_CAPACITY 600u

typedef struct {
    fuzz_outputs_t outputs;
    bool text;
    /* Text mode: the input, of which `served` bytes went to the reader. */
    const uint8_t *input;
    size_t input_size;
    size_t served;
    /* Byte mode: the decoder and the line being handed over. */
    event_decoder_t decoder;
    char line[EVENT_DECODER_LINE_CAPACITY];
    size_t line_length;
    size_t line_served;
    /* The last result line (maybe cut), and whether more of it is still to come. */
    char last_result[LAST_RESULT_CAPACITY + 1];
    size_t last_result_length;
    bool result_line_open;
    heaprig_exit_t status;
    jmp_buf finished;
} fuzz_board_t;

static fuzz_board_t board;

/* Kept from run to run (a run's board is zeroed): where the arena buffer's poisoned tail starts,
 * NULL when nothing is poisoned. */
static char *poisoned_from;

/* ---- Findings ----------------------------------------------------------------------------- */

__attribute__((format(printf, 1, 2))) static noreturn void finding(const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    fprintf(stderr, "heaprig-fuzz: ");
    vfprintf(stderr, format, arguments);
    fprintf(stderr, "\n");
    va_end(arguments);
    fflush(NULL);
    abort();
}

static uint32_t offset_or_zero(const void *where) {
    return where != NULL && arena_holds(where, 0) ? arena_offset(where) : 0;
}

/* ---- Between events ----------------------------------------------------------------------- */

#if HEAPRIG_FUZZ_PLANTED_BUG != PLANTED_NONE
typedef struct {
    bool high_hole;
    supervisor_allocation *live; /* the first live block's handle */
} planted_search_t;

static void planted_visit(const heap_region_t *region, void *context) {
    planted_search_t *search = context;
    search->high_hole = search->high_hole || region->kind == REGION_HIGH_HOLE;
    if (search->live == NULL && region->allocation != NULL) {
        search->live = region->allocation;
    }
}

/*
 * Test builds only (harness/tests/test_fuzz_native.py): once the high side holds a hole, which
 * takes a few events (two high blocks, then freeing the older; or the stack re-made at vm_start
 * while a client's high block lies below it), the board breaks something:
 *   PLANTED_WRITE_PAST_TOP  one word written just past the arena's top, into the buffer's
 *                           poisoned tail (ASan must report it). Not at the largest arena, which
 *                           has no tail.
 *   PLANTED_HANDLE_SHIFTED  a live handle pointed a word into its block (heap_check() must name
 *                           handle_points_at_block).
 */
static void planted_bug(void) {
    planted_search_t search = {false, NULL};
    heap_walk(planted_visit, &search);
    if (!search.high_hole) {
        return;
    }
    if (HEAPRIG_FUZZ_PLANTED_BUG == PLANTED_WRITE_PAST_TOP &&
        arena_size() + ARENA_GUARD_WORDS * sizeof(uint32_t) < HEAPRIG_ARENA_MAX) {
        /* Beyond the observer's guard words (a write on them is its `guard` finding): ASan's. */
        volatile uint32_t *past_top = port_heap_get_top() + ARENA_GUARD_WORDS;
        *past_top = 0;
    }
    if (HEAPRIG_FUZZ_PLANTED_BUG == PLANTED_HANDLE_SHIFTED && search.live != NULL) {
        search.live->ptr++;
    }
}
#endif

/* After every event: the whole invariant check, however the stream set `checking`. */
static void after_event(void) {
    if (!interp_reset_done()) {
        return; /* no heap yet in this run */
    }
#if HEAPRIG_FUZZ_PLANTED_BUG != PLANTED_NONE
    planted_bug();
#endif
    heap_check_result_t result = heap_check();
    if (result.invariant != NULL) {
        finding("heap_check() failed after event %u: %s at offset %u: %s",
                (unsigned)interp_current_event(), result.invariant,
                (unsigned)offset_or_zero(result.where),
                result.detail != NULL ? result.detail : "");
    }
}

/* ---- The arena's poisoned tail (ASan) ------------------------------------------------------ */
/* The arena is the first arena_size() bytes of a HEAPRIG_ARENA_MAX buffer (vm/arena.h), so an
 * access past its top stays inside the buffer, where ASan sees nothing wrong. Poisoning the rest
 * of the buffer makes it a report. A `reset` rewrites the buffer, so the tail is unpoisoned
 * before one runs. Poisoning costs a shadow byte per 8 bytes, so it is redone only when the top
 * moved. Without ASan these macros do nothing. */

static char *arena_buffer_end(void) {
    return (char *)port_heap_get_bottom() + HEAPRIG_ARENA_MAX;
}

static void arena_tail_unpoison(void) {
    if (poisoned_from != NULL) {
        ASAN_UNPOISON_MEMORY_REGION(poisoned_from,
                                    (size_t)(arena_buffer_end() - poisoned_from));
        poisoned_from = NULL;
    }
}

static void arena_tail_poison(void) {
    /* The observer's guard words just above the top are the rig's to read (interp/observe.c): a
     * write there is its `guard` finding; ASan takes over beyond them. */
    char *top = (char *)port_heap_get_top() + ARENA_GUARD_WORDS * sizeof(uint32_t);
    if (top >= arena_buffer_end()) {
        arena_tail_unpoison(); /* the arena fills the buffer: nothing lies beyond its guards */
        return;
    }
    if (poisoned_from != top) {
        arena_tail_unpoison();
        ASAN_POISON_MEMORY_REGION(top, (size_t)(arena_buffer_end() - top));
        poisoned_from = top;
    }
}

/* Is this (the start of) a line whose event is `reset`? The reader splits at spaces. */
static bool is_reset_line(const char *text, size_t length) {
    size_t i = 0;
    while (i < length && text[i] == ' ') {
        i++;
    }
    size_t word = strlen(RESET_EVENT);
    if (length - i < word || memcmp(&text[i], RESET_EVENT, word) != 0) {
        return false;
    }
    i += word;
    return i == length || text[i] == ' ' || text[i] == '\r' || text[i] == '\n';
}

/* Called with each line before the reader gets it, i.e. before its event runs. */
static void guard_arena_for(const char *text, size_t length) {
    if (is_reset_line(text, length)) {
        arena_tail_unpoison();
    } else if (interp_reset_done()) {
        arena_tail_poison();
    }
}

/* ---- The stream, a line at a time --------------------------------------------------------- */

/* Text mode: up to the next '\n' (included), at most n bytes. */
static size_t next_text_piece(char *buf, size_t n) {
    size_t length = 0;
    while (length < n && board.served < board.input_size) {
        char byte = (char)board.input[board.served++];
        buf[length++] = byte;
        if (byte == '\n') {
            break;
        }
    }
    return length;
}

/* Byte mode: the rest of the current decoded line, or the next one; at most n bytes. */
static size_t next_decoded_piece(char *buf, size_t n) {
    if (board.line_served == board.line_length) {
        board.line_length = event_decoder_next(&board.decoder, board.line);
        board.line_served = 0;
    }
    size_t length = board.line_length - board.line_served;
    if (length > n) {
        length = n;
    }
    memcpy(buf, &board.line[board.line_served], length);
    board.line_served += length;
    return length;
}

static void copy_to(FILE *file, const char *buf, size_t n) {
    if (file != NULL && (fwrite(buf, 1, n, file) != n || fflush(file) != 0)) {
        finding("cannot write an output file");
    }
}

/* ---- platform.h --------------------------------------------------------------------------- */

int platform_read_events(char *buf, size_t n) {
    /* The reader asks for more only once the line before has been run: a place after every
     * event (and after the last one, when it finds the end). */
    after_event();
    size_t length = board.text ? next_text_piece(buf, n) : next_decoded_piece(buf, n);
    guard_arena_for(buf, length);
    copy_to(board.outputs.events, buf, length);
    return (int)length;
}

void platform_write_results(const char *buf, size_t n) {
    copy_to(board.outputs.results, buf, n);
    /* The writer hands over whole lines, or a long line in pieces that only the last ends. */
    bool line_ends = n > 0 && buf[n - 1] == '\n';
    if (!board.result_line_open) {
        board.last_result_length = 0;
    }
    size_t room = LAST_RESULT_CAPACITY - board.last_result_length;
    size_t take = line_ends ? n - 1 : n;
    if (take > room) {
        take = room;
    }
    memcpy(&board.last_result[board.last_result_length], buf, take);
    board.last_result_length += take;
    board.last_result[board.last_result_length] = '\0';
    board.result_line_open = !line_ends;
}

/* No instruction counter here: libFuzzer's -timeout stops an input that runs too long. */
void board_budget_restart(void) {
}

void board_budget_set(uint64_t instructions) {
    (void)instructions;
}

noreturn void platform_exit(heaprig_exit_t status) {
    switch (status) {
    case EXIT_RAN_TO_END:
        break;
    case EXIT_PROTOCOL_ERROR:
        if (!board.text) {
            finding("the interpreter rejected a decoded event (a decoder bug): %s",
                    board.last_result);
        }
        break;
    case EXIT_CANNOT_START:
        finding("the run could not read its stream: %s", board.last_result);
    case EXIT_HEAP_BROKEN:
        finding("the heap broke in event %u: %s", (unsigned)interp_current_event(),
                board.last_result);
    case EXIT_FAULT:
        finding("a fault in event %u: %s", (unsigned)interp_current_event(), board.last_result);
    case EXIT_RESET_UNPROVEN:
        finding("a reset left state behind in event %u: %s", (unsigned)interp_current_event(),
                board.last_result);
    }
    after_event();
    board.status = status;
    longjmp(board.finished, 1);
}

/* ---- Runs --------------------------------------------------------------------------------- */

static bool is_text_input(const uint8_t *data, size_t size) {
    size_t prefix = strlen(TEXT_MODE_PREFIX);
    return size >= prefix && memcmp(data, TEXT_MODE_PREFIX, prefix) == 0;
}

heaprig_exit_t fuzz_run_input(const uint8_t *data, size_t size, const fuzz_outputs_t *outputs) {
    /* The backend's boot image, taken before its first call, as a board does at power-on; every
     * `reset` puts it back (target/BACKENDS.md). */
    static bool backend_image_taken;
    if (!backend_image_taken) {
        if (!heaprig_backend_snapshot()) {
            fprintf(stderr, "heaprig-fuzz: the backend's data is larger than HEAPRIG_BACKEND_DATA_MAX\n");
            abort();
        }
        backend_image_taken = true;
    }
    memset(&board, 0, sizeof(board));
    board.outputs = *outputs;
    board.text = is_text_input(data, size);
    board.input = data;
    board.input_size = size;
    event_decoder_init(&board.decoder, data, size);
    arena_tail_unpoison(); /* the last run's arena is not this one's */
    if (setjmp(board.finished) == 0) {
        heaprig_main();
    }
    return board.status;
}
