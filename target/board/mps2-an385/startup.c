/*
 * Reset and exception entry for the Cortex-M3: the vector table; the reset handler (fault
 * exceptions and the stack guard on, .data copied, .bss zeroed, then main); and the fault
 * handlers, which hand the stacked registers and the fault status registers to the core's report
 * (board_reports.h). Memory layout: linker.ld.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "board.h"
#include "board_reports.h"
#include "cortex_m3.h"

extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[];
extern uint32_t __stack_guard[], __stack_limit[], __stack_top[], __fault_stack_top[];
extern uint32_t __fault_stack_threshold[];

#define STACK_GUARD_REGION 0u
#define STRINGIFY(x) #x
#define EXPAND_AND_STRINGIFY(x) STRINGIFY(x)

int main(void);

static uintptr_t address_of(const void *symbol) {
    return (uintptr_t)symbol;
}

/* Faults get their own handlers (else all escalate to HardFault, whose status then only says
 * "forced"), and integer division by zero traps (else it silently yields 0). */
static void enable_fault_exceptions(void) {
    SCB_SHCSR |= SHCSR_MEMFAULTENA | SHCSR_BUSFAULTENA | SHCSR_USGFAULTENA;
    SCB_CCR |= CCR_DIV_0_TRP;
}

/* One MPU region without access over the stack guard: a stack overflow is a MemManage fault, not
 * a silent write into .data/.bss (the arena). Everything else keeps the default memory map
 * (PRIVDEFENA: the firmware runs privileged). Skipped if the core has no MPU. */
static void guard_stack(void) {
    if (((MPU_TYPE >> MPU_TYPE_DREGION_SHIFT) & MPU_TYPE_DREGION_MASK) == 0) {
        return;
    }
    uint32_t bytes = (uint32_t)(address_of(__stack_limit) - address_of(__stack_guard));
    uint32_t size_field = (uint32_t)__builtin_ctz(bytes) - 1u; /* bytes = 2^(field + 1) */
    MPU_RNR = STACK_GUARD_REGION;
    MPU_RBAR = (uint32_t)address_of(__stack_guard);
    MPU_RASR = MPU_RASR_XN | MPU_RASR_AP_NO_ACCESS | (size_field << MPU_RASR_SIZE_SHIFT) |
               MPU_RASR_ENABLE;
    MPU_CTRL = MPU_CTRL_ENABLE | MPU_CTRL_PRIVDEFENA;
    /* The new map applies to the accesses that follow. */
    __asm__ volatile("dsb\n isb" ::: "memory");
}

noreturn void Reset_Handler(void) {
    enable_fault_exceptions();
    guard_stack();
    memcpy(__data_start, __data_load, address_of(__data_end) - address_of(__data_start));
    memset(__bss_start, 0, address_of(__bss_end) - address_of(__bss_start));
    main();
    for (;;) {
        /* main() ends the run through semihosting and does not return. */
    }
}

/* Whether a fault frame at `address` can be read: inside the stacks, above the guard. A stack
 * overflow leaves it in (or under) the guard, and reading it there would fault again. */
static bool frame_readable(uintptr_t address) {
    return address % sizeof(uint32_t) == 0 && address >= address_of(__stack_limit) &&
           address + sizeof(fault_frame_t) <= address_of(__fault_stack_top);
}

/* Stands for every register of a frame the core could not stack (a stack overflow): odd, so not
 * an instruction address, and outside the image, so nothing turns it into a source line. */
#define FRAME_LOST 0xFFFFFFFFu

/* Called by fault_entry with the address of the frame the core stacked. */
__attribute__((used)) static noreturn void fault_report(uintptr_t frame_address) {
    static const fault_frame_t lost = {FRAME_LOST, FRAME_LOST, FRAME_LOST, FRAME_LOST,
                                       FRAME_LOST, FRAME_LOST, FRAME_LOST, FRAME_LOST};
    const fault_frame_t *frame = &lost;
    uint32_t padding = 0;
    if (frame_readable(frame_address)) {
        frame = (const fault_frame_t *)frame_address;
        padding = (frame->xpsr & XPSR_STACK_PADDED) != 0 ? sizeof(uint32_t) : 0u;
    }
    const fault_status_t status = {
        .cfsr = SCB_CFSR,
        .hfsr = SCB_HFSR,
        .mmfar = SCB_MMFAR,
        .bfar = SCB_BFAR,
        .sp = (uint32_t)(frame_address + sizeof(fault_frame_t) + padding), /* before the fault */
    };
    heaprig_report_hardfault(frame, &status);
}

/*
 * HardFault, MemManage, BusFault and UsageFault (and the unexpected NMI, SVCall, DebugMonitor and
 * PendSV) land here. The frame is on the stack EXC_RETURN names. The report runs on the same
 * stack, just below the frame, so that gdb can unwind through the exception to the faulting code;
 * only when that stack has too little room left (an overflow) does it move to the fault stack.
 * Assembly only: C would use the stack before the switch.
 */
__attribute__((naked)) static void fault_entry(void) {
    __asm__ volatile(
        "tst lr, #(1 << " EXPAND_AND_STRINGIFY(EXC_RETURN_PROCESS_STACK_BIT) ")\n"
        "ite eq\n"
        "mrseq r0, msp\n"
        "mrsne r0, psp\n"
        "ldr r1, =__fault_stack_threshold\n"
        "cmp r0, r1\n"
        "bhs 1f\n"
        "ldr r1, =__fault_stack_top\n"
        "msr msp, r1\n"
        "1: b fault_report\n"
        ".ltorg\n");
}

typedef void (*vector_t)(void);

/* Cortex-M3 vector table: initial stack pointer, then the system exceptions. No external
 * interrupt is ever enabled, so the table stops at SysTick. */
__attribute__((section(".vectors"), used)) static const vector_t vector_table[] = {
    (vector_t)__stack_top,
    Reset_Handler,
    fault_entry,          /* NMI: unexpected, reported like a fault */
    fault_entry,          /* HardFault */
    fault_entry,          /* MemManage */
    fault_entry,          /* BusFault */
    fault_entry,          /* UsageFault */
    0, 0, 0, 0,           /* reserved */
    fault_entry,          /* SVCall: unexpected */
    fault_entry,          /* DebugMonitor: unexpected */
    0,                    /* reserved */
    fault_entry,          /* PendSV: unexpected */
    budget_tick,          /* SysTick: the instruction budget (main.c) */
};
