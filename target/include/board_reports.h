/*
 * What the board reports to the firmware core when the run cannot go on: a processor fault or an
 * exhausted instruction budget. Implemented by the core (target/interp/fault.c), which prints the
 * `fault` result (PROTOCOL.md) and exits with EXIT_FAULT.
 */
#ifndef HEAPRIG_BOARD_REPORTS_H
#define HEAPRIG_BOARD_REPORTS_H

#include <stdint.h>
#include <stdnoreturn.h>

/* The eight words the Cortex-M pushes on exception entry, in stacking order. */
typedef struct {
    uint32_t r0, r1, r2, r3, r12, lr, pc, xpsr;
} fault_frame_t;

/* The fault status registers and the stack pointer before the exception. */
typedef struct {
    uint32_t cfsr, hfsr, mmfar, bfar, sp;
} fault_status_t;

noreturn void heaprig_report_hardfault(const fault_frame_t *frame, const fault_status_t *status);
noreturn void heaprig_report_budget_exhausted(uint64_t instructions);

#endif
