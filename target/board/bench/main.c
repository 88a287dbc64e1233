/*
 * The bench program for the mps2-an385 board (issue 6): the board's startup, semihosting and
 * linker script with this main in place of the scenario runner's. It links the firmware core
 * (rig, VM model, clients, result writer) and one backend, and prints JSON lines (bench.h).
 *
 * Command line (semihosting): heaprig-bench RESULTS SHIFT MODE ARGUMENTS
 *   SHIFT                     QEMU's -icount shift, INSTRUCTIONS_SHIFT_MIN..MAX (instructions.h)
 *   calibrate ITERATIONS      the known loop for each count: `calibrate` lines
 *   sweep LIVE EMBEDDED       every state of LIVE x EMBEDDED: `bench` lines
 * Lists are items separated by ':' (QEMU would split its options at a comma), each a number or
 * a range FIRST-LAST, e.g. `1-64` or `0:8:16:32`. The results start with a `bench_ready` line
 * (the shift, the measuring overhead, the slots) and end with `end`; a state that cannot be built
 * or fails its check prints an `error` line and the program exits with EXIT_HEAP_BROKEN.
 */
#include <stdbool.h>
#include <stdint.h>

#include "bench.h"
#include "board.h"
#include "heaprig_backend.h"
#include "heaprig_config.h"
#include "instructions.h"
#include "interp/report.h"
#include "platform.h"
#include "semihosting.h"

#define CMDLINE_BYTES 4096u
#define WORDS_MAX 6u /* heaprig-bench RESULTS SHIFT MODE LIST [LIST] */
#define WORD_RESULTS 1u
#define WORD_SHIFT 2u
#define WORD_MODE 3u
#define WORD_FIRST_LIST 4u
#define WORD_SECOND_LIST 5u
#define WORDS_CALIBRATE 5u
#define WORDS_SWEEP 6u
#define LIST_SEPARATOR ':'
#define RANGE_SEPARATOR '-'
#define NO_HANDLE (-1)
#define DECIMAL_BASE 10u
/* The known loop run at start-up to check SHIFT against QEMU's (instructions.h). */
#define SELF_CHECK_ITERATIONS 1000u

static int results = NO_HANDLE;

/* ---- platform.h: results through semihosting (the scenario interpreter is never started) -- */

void platform_write_results(const char *buf, size_t n) {
    if (results != NO_HANDLE) {
        (void)semihosting_write(results, buf, n);
    } else {
        semihosting_write_console("heaprig-bench: results lost (no results file)\n");
    }
}

noreturn void platform_exit(heaprig_exit_t status) {
    if (results != NO_HANDLE) {
        (void)semihosting_close(results);
    }
    semihosting_exit((uint32_t)status);
}

/* The board's vector table names this for SysTick; the bench never enables SysTick. */
void budget_tick(void) {
}

static noreturn void cannot_start(const char *why) {
    semihosting_write_console("heaprig-bench: ");
    semihosting_write_console(why);
    semihosting_write_console("\nusage: heaprig-bench RESULTS SHIFT calibrate ITERATIONS\n"
                              "       heaprig-bench RESULTS SHIFT sweep LIVE EMBEDDED\n");
    platform_exit(EXIT_CANNOT_START);
}

/* ---- Command line ------------------------------------------------------------------------- */

/* Words separated by single spaces; paths with spaces are not supported (the harness passes
 * its own scratch paths). Returns the number of words, at most `max`. */
static unsigned split_words(char *line, char *words[], unsigned max) {
    unsigned count = 0;
    char *cursor = line;
    while (count < max) {
        while (*cursor == ' ') {
            cursor++;
        }
        if (*cursor == '\0') {
            break;
        }
        words[count++] = cursor;
        while (*cursor != '\0' && *cursor != ' ') {
            cursor++;
        }
        if (*cursor == ' ') {
            *cursor++ = '\0';
        }
    }
    return count;
}

static bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* A decimal number below 2^32 at *text; moves *text past it. */
static bool parse_number(const char **text, uint32_t *value) {
    uint32_t number = 0;
    const char *digit = *text;
    for (; is_digit(*digit); digit++) {
        uint32_t next = (uint32_t)(*digit - '0');
        if (number > (UINT32_MAX - next) / DECIMAL_BASE) {
            return false;
        }
        number = number * DECIMAL_BASE + next;
    }
    if (digit == *text) {
        return false;
    }
    *text = digit;
    *value = number;
    return true;
}

typedef struct {
    const char *next; /* the rest of the list */
    uint32_t value;   /* the current item */
    uint32_t last;    /* the end of the current range */
    bool in_range;
} list_cursor_t;

/* The next number of a list like `1-4:8:16`; false at its end. A malformed list ends the run. */
static bool list_next(list_cursor_t *cursor) {
    if (cursor->in_range && cursor->value < cursor->last) {
        cursor->value++;
        return true;
    }
    cursor->in_range = false;
    if (*cursor->next == '\0') {
        return false;
    }
    if (!parse_number(&cursor->next, &cursor->value)) {
        cannot_start("a list item is not a number");
    }
    if (*cursor->next == RANGE_SEPARATOR) {
        cursor->next++;
        if (!parse_number(&cursor->next, &cursor->last) || cursor->last < cursor->value) {
            cannot_start("a range is not FIRST-LAST with FIRST <= LAST");
        }
        cursor->in_range = true;
    }
    if (*cursor->next == LIST_SEPARATOR) {
        cursor->next++;
    } else if (*cursor->next != '\0') {
        cannot_start("list items are separated by ':'");
    }
    return true;
}

static list_cursor_t list_start(const char *text) {
    return (list_cursor_t){.next = text};
}

/* ---- Modes -------------------------------------------------------------------------------- */

static void calibrate(const char *iterations) {
    list_cursor_t cursor = list_start(iterations);
    while (list_next(&cursor)) {
        if (cursor.value == 0) {
            cannot_start("the known loop needs at least one iteration");
        }
        bench_calibrate(cursor.value);
    }
}

static void sweep(const char *live_list, const char *embedded_list) {
    list_cursor_t live = list_start(live_list);
    while (list_next(&live)) {
        list_cursor_t embedded = list_start(embedded_list);
        while (list_next(&embedded)) {
            bench_error_t error = bench_state(live.value, embedded.value);
            if (error != NULL) {
                report_begin("error");
                report_u32("live", live.value);
                report_u32("embedded", embedded.value);
                report_string("error", error);
                report_end();
                platform_exit(EXIT_HEAP_BROKEN);
            }
        }
    }
}

static bool is_word(const char *word, const char *expected) {
    while (*word != '\0' && *word == *expected) {
        word++;
        expected++;
    }
    return *word == *expected;
}

int main(void) {
    static char cmdline[CMDLINE_BYTES];
    if (!heaprig_backend_snapshot()) {
        cannot_start("the backend's initialised data exceeds HEAPRIG_BACKEND_DATA_MAX");
    }
    if (semihosting_get_cmdline(cmdline, sizeof(cmdline)) != 0) {
        cannot_start("no semihosting command line, or too long a one");
    }
    char *words[WORDS_MAX + 1]; /* one more, to notice too many */
    unsigned count = split_words(cmdline, words, WORDS_MAX + 1);
    if (count <= WORD_MODE) {
        cannot_start("bad command line");
    }
    bool calibrating = is_word(words[WORD_MODE], "calibrate");
    if (!(calibrating && count == WORDS_CALIBRATE) &&
        !(is_word(words[WORD_MODE], "sweep") && count == WORDS_SWEEP)) {
        cannot_start("MODE is `calibrate ITERATIONS` or `sweep LIVE EMBEDDED`");
    }
    uint32_t shift;
    const char *shift_text = words[WORD_SHIFT];
    if (!parse_number(&shift_text, &shift) || *shift_text != '\0' || !instructions_start(shift)) {
        cannot_start("SHIFT must be the -icount shift QEMU runs with, 7..10");
    }
    /* Any other shift (or no -icount) turns the known loop into some other count. */
    if (instructions_of_known_loop(SELF_CHECK_ITERATIONS) != 2u * SELF_CHECK_ITERATIONS + 1u) {
        cannot_start("SHIFT is not the -icount shift QEMU runs with");
    }
    results = semihosting_open(words[WORD_RESULTS], SEMIHOSTING_OPEN_WRITE);
    if (results < 0) {
        results = NO_HANDLE;
        cannot_start("cannot open the results file");
    }
    report_begin("bench_ready");
    report_u32("shift", shift);
    report_u32("overhead", instructions_overhead());
    report_u32("slots", SUPERVISOR_SLOTS);
    report_end();
    if (calibrating) {
        calibrate(words[WORD_FIRST_LIST]);
    } else {
        sweep(words[WORD_FIRST_LIST], words[WORD_SECOND_LIST]);
    }
    report_begin("end");
    report_end();
    platform_exit(EXIT_RAN_TO_END);
}
