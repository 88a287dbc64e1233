/*
 * The instruction counter (instructions.h): CMSDK APB timer 0 counting QEMU's virtual time.
 */
#include "instructions.h"

#include <stddef.h>
#include <stdint.h>

/* CMSDK APB timer 0 (ARM DDI0479C, "APB timer"): a 32-bit down counter reloaded from RELOAD. */
#define TIMER0_BASE 0x40000000u
#define TIMER_REGISTER(offset) (*(volatile uint32_t *)(TIMER0_BASE + (offset)))
#define TIMER_CTRL TIMER_REGISTER(0x0u)
#define TIMER_VALUE TIMER_REGISTER(0x4u)
#define TIMER_RELOAD TIMER_REGISTER(0x8u)
#define TIMER_CTRL_ENABLE (1u << 0)
#define TIMER_FULL_RANGE UINT32_MAX

/* The AN385's system clock, which drives the timer, and QEMU's virtual nanoseconds. */
#define TIMER_CLOCK_HZ 25000000u
#define NANOSECONDS_PER_SECOND 1000000000u
#define NANOSECONDS_PER_TICK (NANOSECONDS_PER_SECOND / TIMER_CLOCK_HZ)
_Static_assert(NANOSECONDS_PER_SECOND % TIMER_CLOCK_HZ == 0, "a tick is whole nanoseconds");
_Static_assert((1u << INSTRUCTIONS_SHIFT_MIN) / 2u > NANOSECONDS_PER_TICK,
               "at the smallest shift, rounding ticks back to instructions must be exact");

/* The calibration function's length: one `bx lr`. */
#define EMPTY_CALL_INSTRUCTIONS 1u

static struct {
    uint32_t nanoseconds_per_instruction; /* 2^shift */
    uint32_t overhead;                    /* instructions of the measuring itself */
} counter;

/* Exactly one instruction. Naked, so the compiler adds nothing. */
__attribute__((naked, noinline)) static void empty_call(void *context) {
    (void)context;
    __asm__ volatile("bx lr\n");
}

/* 2 * iterations + 1 instructions: `context` is the iteration count (r0). */
__attribute__((naked, noinline)) static void known_loop(void *context) {
    (void)context;
    __asm__ volatile(
        "1: subs r0, r0, #1\n"
        "bne 1b\n"
        "bx lr\n");
}

/* Ticks of the timer while `call` runs, plus the fixed cost of the two reads around it. The
 * counter counts down; the subtraction is modulo 2^32, so a reload in between costs nothing. */
__attribute__((noinline)) static uint32_t ticks_of(instructions_call_t call, void *context) {
    uint32_t before = TIMER_VALUE;
    call(context);
    uint32_t after = TIMER_VALUE;
    return before - after;
}

/* ticks * 40 ns is N * 2^S ns within one tick: round to the nearest whole instruction. */
static uint32_t ticks_to_instructions(uint32_t ticks) {
    uint64_t nanoseconds = (uint64_t)ticks * NANOSECONDS_PER_TICK;
    uint64_t half = counter.nanoseconds_per_instruction / 2u;
    return (uint32_t)((nanoseconds + half) / counter.nanoseconds_per_instruction);
}

bool instructions_start(uint32_t shift) {
    if (shift < INSTRUCTIONS_SHIFT_MIN || shift > INSTRUCTIONS_SHIFT_MAX) {
        return false;
    }
    counter.nanoseconds_per_instruction = 1u << shift;
    TIMER_CTRL = 0;
    TIMER_RELOAD = TIMER_FULL_RANGE;
    TIMER_VALUE = TIMER_FULL_RANGE;
    TIMER_CTRL = TIMER_CTRL_ENABLE;
    counter.overhead = 0;
    counter.overhead = ticks_to_instructions(ticks_of(empty_call, NULL)) - EMPTY_CALL_INSTRUCTIONS;
    return true;
}

uint32_t instructions_of(instructions_call_t call, void *context) {
    return ticks_to_instructions(ticks_of(call, context)) - counter.overhead;
}

uint32_t instructions_overhead(void) {
    return counter.overhead;
}

uint32_t instructions_of_known_loop(uint32_t iterations) {
    return instructions_of(known_loop, (void *)(uintptr_t)iterations);
}
