/*
 * The mps2-an385 board: reads `heaprig EVENTS RESULTS [BUDGET]` from the semihosting command
 * line, opens both files on the host, arms the instruction budget and runs the firmware core.
 * It implements include/platform.h on top of semihosting.
 */
#include <stdbool.h>
#include <stdint.h>

#include "board.h"
#include "board_reports.h"
#include "cortex_m3.h"
#include "interp/rig_reset.h"
#include "heaprig_backend.h"
#include "platform.h"
#include "semihosting.h"

/* The command line: room for two long paths (QEMU refuses to truncate it). */
#define CMDLINE_BYTES 4096u
#define WORDS_MIN 3u /* heaprig EVENTS RESULTS */
#define WORDS_MAX 4u /* ... BUDGET */
#define WORD_EVENTS 1u
#define WORD_RESULTS 2u
#define WORD_BUDGET 3u
#define ESCAPE '\\'
#define NO_HANDLE (-1)

/*
 * The instruction budget. QEMU runs with -icount shift=0: one instruction is one nanosecond of
 * virtual time, and SysTick, on the 25 MHz CPU clock of the AN385, is driven by that virtual
 * time, so one tick is 40 instructions whatever the host is doing. SysTick interrupts every
 * INSTRUCTIONS_PER_WRAP instructions and the budget is checked then: a run is stopped after at
 * least BUDGET and fewer than BUDGET + INSTRUCTIONS_PER_WRAP instructions, and the report says
 * how many whole wraps ran. The handler costs about 20 instructions a wrap (0.2 %).
 */
#define CPU_CLOCK_HZ 25000000u
#define INSTRUCTIONS_PER_SECOND 1000000000u /* icount shift=0 */
#define INSTRUCTIONS_PER_TICK (INSTRUCTIONS_PER_SECOND / CPU_CLOCK_HZ)
#define INSTRUCTIONS_PER_WRAP 10000u
#define TICKS_PER_WRAP (INSTRUCTIONS_PER_WRAP / INSTRUCTIONS_PER_TICK)
_Static_assert(INSTRUCTIONS_PER_WRAP % INSTRUCTIONS_PER_TICK == 0, "a wrap is whole ticks");
_Static_assert(TICKS_PER_WRAP - 1u <= SYST_RVR_MAX, "SysTick reload does not fit 24 bits");

static struct {
    int events;            /* semihosting handles */
    int results;
    uint64_t budget;       /* instructions, 0 = none */
    uint64_t instructions; /* elapsed since the budget was armed, in whole SysTick wraps */
} board = {.events = NO_HANDLE, .results = NO_HANDLE};

void budget_tick(void) {
    board.instructions += INSTRUCTIONS_PER_WRAP;
    if (board.budget != 0 && board.instructions >= board.budget) {
        heaprig_report_budget_exhausted(board.instructions);
    }
}

static void budget_start(uint64_t budget) {
    board.budget = budget;
    if (budget == 0) {
        return;
    }
    SYST_RVR = TICKS_PER_WRAP - 1u;
    SYST_CVR = 0; /* any write clears it: the first wrap is a whole one */
    SYST_CSR = SYST_CSR_ENABLE | SYST_CSR_TICKINT | SYST_CSR_CLKSOURCE_CPU;
}

/* Per scenario (rig_reset.h): the count restarts at every reset, and a `budget` event sets the
 * limit of the scenario that follows. Restarting the SysTick count too makes the next wrap a whole
 * one, so the stop still comes within one wrap of the limit. */
void board_budget_restart(void) {
    board.instructions = 0;
    SYST_CVR = 0;
}

void board_budget_set(uint64_t instructions) {
    if (board.budget == 0 && instructions != 0) {
        budget_start(instructions);
    }
    board.budget = instructions;
    board_budget_restart();
}

static noreturn void cannot_start(const char *why) {
    semihosting_write_console("heaprig: ");
    semihosting_write_console(why);
    semihosting_write_console("\nusage: heaprig EVENTS RESULTS [BUDGET]\n");
    platform_exit(EXIT_CANNOT_START);
}

/*
 * Splits the command line in place into words separated by spaces. QEMU joins its arg= values
 * with plain spaces, so qemu/run-firmware writes a space inside a path as "\ " and a backslash as
 * "\\": a backslash makes the next character part of the word. Returns the number of words, at
 * most `max`.
 */
static unsigned split_words(char *line, char *words[], unsigned max) {
    unsigned count = 0;
    char *read = line;
    while (count < max) {
        while (*read == ' ') {
            read++;
        }
        if (*read == '\0') {
            break;
        }
        char *write = read;
        words[count++] = write;
        while (*read != '\0' && *read != ' ') {
            if (*read == ESCAPE && read[1] != '\0') {
                read++;
            }
            *write++ = *read++;
        }
        if (*read == ' ') {
            read++; /* past the separator first: `write` may stand on it */
        }
        *write = '\0';
    }
    return count;
}

/* Unsigned decimal, at least one digit, below 2^64. */
static bool parse_budget(const char *text, uint64_t *budget) {
    uint64_t value = 0;
    const char *digit = text;
    for (; *digit >= '0' && *digit <= '9'; digit++) {
        unsigned next = (unsigned)(*digit - '0');
        if (value > (UINT64_MAX - next) / 10u) {
            return false;
        }
        value = value * 10u + next;
    }
    if (digit == text || *digit != '\0') {
        return false;
    }
    *budget = value;
    return true;
}

int platform_read_events(char *buf, size_t n) {
    return semihosting_read(board.events, buf, n);
}

void platform_write_results(const char *buf, size_t n) {
    /* Unbuffered: QEMU write()s it to the host file at once, so the results so far survive a
     * fault or a kill. A failed write cannot be reported anywhere better than the file itself. */
    (void)semihosting_write(board.results, buf, n);
}

noreturn void platform_exit(heaprig_exit_t status) {
    if (board.results != NO_HANDLE) {
        (void)semihosting_close(board.results);
    }
    if (board.events != NO_HANDLE) {
        (void)semihosting_close(board.events);
    }
    semihosting_exit((uint32_t)status);
}

int main(void) {
    static char cmdline[CMDLINE_BYTES];
    /* Before anything can call the backend: the image every scenario's reset puts back. */
    if (!heaprig_backend_snapshot()) {
        cannot_start("the backend's initialised data exceeds HEAPRIG_BACKEND_DATA_MAX");
    }
    char *words[WORDS_MAX + 1]; /* one more, to notice too many */
    if (semihosting_get_cmdline(cmdline, sizeof(cmdline)) != 0) {
        cannot_start("no semihosting command line, or too long a one");
    }
    unsigned count = split_words(cmdline, words, WORDS_MAX + 1);
    uint64_t budget = 0;
    if (count < WORDS_MIN || count > WORDS_MAX) {
        cannot_start("bad command line");
    }
    if (count > WORD_BUDGET && !parse_budget(words[WORD_BUDGET], &budget)) {
        cannot_start("BUDGET is not an unsigned decimal number");
    }
    board.events = semihosting_open(words[WORD_EVENTS], SEMIHOSTING_OPEN_READ);
    if (board.events < 0) {
        board.events = NO_HANDLE;
        cannot_start("cannot open the events file");
    }
    board.results = semihosting_open(words[WORD_RESULTS], SEMIHOSTING_OPEN_WRITE);
    if (board.results < 0) {
        board.results = NO_HANDLE;
        cannot_start("cannot open the results file");
    }
    budget_start(budget);
    heaprig_main();
}
