/*
 * The mps2-an385 board: reads `heaprig EVENTS RESULTS [BUDGET]` from the semihosting command
 * line, opens both files on the host, arms the instruction budget and runs the firmware core.
 * It implements include/platform.h on top of semihosting.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "board.h"
#include "board_reports.h"
#include "cortex_m3.h"
#include "platform.h"
#include "semihosting.h"

#define CMDLINE_BYTES 512u
#define ARGUMENTS_MAX 4u

/*
 * The instruction budget. QEMU runs with -icount shift=0: one instruction is one nanosecond of
 * virtual time, and SysTick (on the 25 MHz CPU clock of the AN385) is driven by that virtual
 * time, so a tick is 40 instructions whatever the host is doing. SysTick interrupts every
 * INSTRUCTIONS_PER_WRAP instructions; the budget is checked then, so it is enforced to within
 * that granularity.
 */
#define CPU_CLOCK_HZ 25000000u
#define INSTRUCTIONS_PER_SECOND 1000000000u /* icount shift=0 */
#define INSTRUCTIONS_PER_TICK (INSTRUCTIONS_PER_SECOND / CPU_CLOCK_HZ)
#define INSTRUCTIONS_PER_WRAP 10000u
#define TICKS_PER_WRAP (INSTRUCTIONS_PER_WRAP / INSTRUCTIONS_PER_TICK)
_Static_assert(TICKS_PER_WRAP - 1u <= SYST_RVR_MAX, "SysTick reload does not fit 24 bits");

static struct {
    int events;
    int results;
    uint64_t budget;         /* instructions, 0 = none */
    uint64_t instructions;   /* elapsed, in whole SysTick wraps */
} board = {.events = -1, .results = -1};

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
    SYST_CVR = 0;
    SYST_CSR = SYST_CSR_ENABLE | SYST_CSR_TICKINT | SYST_CSR_CLKSOURCE_CPU;
}

static noreturn void cannot_start(const char *why) {
    semihosting_write_console("heaprig: ");
    semihosting_write_console(why);
    semihosting_write_console("\nusage: heaprig EVENTS RESULTS [BUDGET]\n");
    semihosting_exit(EXIT_CANNOT_START);
}

/* Splits the command line in place at spaces; returns the number of words. */
static unsigned split_words(char *line, char *words[], unsigned max) {
    unsigned count = 0;
    for (char *cursor = line; *cursor != '\0' && count < max;) {
        while (*cursor == ' ') {
            *cursor++ = '\0';
        }
        if (*cursor != '\0') {
            words[count++] = cursor;
        }
        while (*cursor != '\0' && *cursor != ' ') {
            cursor++;
        }
    }
    return count;
}

static bool parse_budget(const char *text, uint64_t *budget) {
    char *end;
    unsigned long long value = strtoull(text, &end, 10);
    if (*text < '0' || *text > '9' || *end != '\0') {
        return false;
    }
    *budget = value;
    return true;
}

int platform_read_events(char *buf, size_t n) {
    return semihosting_read(board.events, buf, n);
}

void platform_write_results(const char *buf, size_t n) {
    semihosting_write(board.results, buf, n);
}

noreturn void platform_exit(heaprig_exit_t status) {
    semihosting_exit((uint32_t)status);
}

int main(void) {
    /* Distinct handlers for MemManage/BusFault/UsageFault, and trap division by zero. */
    SCB_SHCSR |= SHCSR_MEMFAULTENA | SHCSR_BUSFAULTENA | SHCSR_USGFAULTENA;
    SCB_CCR |= CCR_DIV_0_TRP;

    static char cmdline[CMDLINE_BYTES];
    char *words[ARGUMENTS_MAX + 1];
    if (semihosting_get_cmdline(cmdline, sizeof(cmdline)) != 0) {
        cannot_start("no semihosting command line");
    }
    unsigned count = split_words(cmdline, words, ARGUMENTS_MAX + 1);
    uint64_t budget = 0;
    if (count < 3 || count > ARGUMENTS_MAX || (count == 4 && !parse_budget(words[3], &budget))) {
        cannot_start("bad command line");
    }
    board.events = semihosting_open(words[1], SEMIHOSTING_OPEN_READ);
    if (board.events < 0) {
        cannot_start("cannot open the events file");
    }
    board.results = semihosting_open(words[2], SEMIHOSTING_OPEN_WRITE);
    if (board.results < 0) {
        cannot_start("cannot open the results file");
    }
    budget_start(budget);
    heaprig_main();
}
