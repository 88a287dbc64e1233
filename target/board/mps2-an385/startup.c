/*
 * Reset and exception entry for the Cortex-M3: the vector table, copying .data and zeroing .bss
 * before main(), and the fault handlers that hand the stacked registers to the core's report.
 */
#include <stdint.h>
#include <string.h>

#include "board.h"
#include "board_reports.h"
#include "cortex_m3.h"

extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[];
extern uint32_t __stack_top[];

int main(void);

noreturn void Reset_Handler(void) {
    memcpy(__data_start, __data_load, (size_t)((char *)__data_end - (char *)__data_start));
    memset(__bss_start, 0, (size_t)((char *)__bss_end - (char *)__bss_start));
    main();
    for (;;) {
        /* main() ends the run through semihosting and does not return. */
    }
}

/* Called with the exception frame the core stacked (see fault_entry below). */
__attribute__((used)) noreturn void fault_report(const fault_frame_t *frame) {
    const fault_status_t status = {
        .cfsr = SCB_CFSR,
        .hfsr = SCB_HFSR,
        .mmfar = SCB_MMFAR,
        .bfar = SCB_BFAR,
        .sp = (uint32_t)frame + sizeof(*frame), /* the stack pointer before the exception */
    };
    heaprig_report_hardfault(frame, &status);
}

/* HardFault, MemManage, BusFault and UsageFault all land here: pick the stack the frame was
 * pushed on (EXC_RETURN bit 2) and pass it to fault_report. No C before that: it would move sp. */
__attribute__((naked)) void fault_entry(void) {
    __asm__ volatile("tst lr, #4     \n" /* EXC_RETURN_PROCESS_STACK */
                     "ite eq         \n"
                     "mrseq r0, msp  \n"
                     "mrsne r0, psp  \n"
                     "b fault_report \n");
}

typedef void (*vector_t)(void);

/* Cortex-M3 vector table: initial stack pointer, then the system exceptions. */
__attribute__((section(".vectors"), used)) static const vector_t vector_table[] = {
    (vector_t)__stack_top,
    (vector_t)Reset_Handler,
    fault_entry,          /* NMI: unexpected, reported like a fault */
    fault_entry,          /* HardFault */
    fault_entry,          /* MemManage */
    fault_entry,          /* BusFault */
    fault_entry,          /* UsageFault */
    0, 0, 0, 0,           /* reserved */
    fault_entry,          /* SVCall */
    fault_entry,          /* DebugMonitor */
    0,                    /* reserved */
    fault_entry,          /* PendSV */
    budget_tick,          /* SysTick */
};
