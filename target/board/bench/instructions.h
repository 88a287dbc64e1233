/*
 * Counting the instructions of one call, exactly, under QEMU's -icount (issue 6).
 *
 * QEMU has no cycle counter for the Cortex-M3 (no DWT) and Debian's QEMU no TCG plugins. Under
 * `-icount shift=S` every instruction advances virtual time by 2^S ns, and the AN385's timers
 * count that virtual time on the 25 MHz system clock, one tick every 40 ns, so a tick count
 * measures instructions. With shift 0 a tick is 40 instructions, far too coarse for one call. The
 * bench runs with a shift of at least INSTRUCTIONS_SHIFT_MIN: an instruction is then 2^S ns >=
 * 128 ns, over three ticks, and a span of N instructions, which the timer sees as
 * ticks * 40 ns = N * 2^S ns give or take less than one tick (the phase of the first and the
 * last tick), rounds back to exactly N because 40 ns < 2^S / 2 ns.
 *
 * The timer is the CMSDK APB timer 0 of the board (QEMU hw/arm/mps2.c, on the same 25 MHz clock
 * as SysTick): 32 bits wide, so a single measurement can span 2^32 ticks (about 670 million
 * instructions at shift 8), where SysTick's 24 bits would stop near 2.6 million. Nothing in the
 * bench enables an interrupt, so nothing runs between the two reads but the measured call.
 *
 * The measuring itself (reading the timer twice, calling through a pointer) costs a fixed
 * number of instructions, found at start-up by measuring a function of exactly one instruction
 * and subtracted from every measurement.
 */
#ifndef HEAPRIG_BENCH_INSTRUCTIONS_H
#define HEAPRIG_BENCH_INSTRUCTIONS_H

#include <stdbool.h>
#include <stdint.h>

/* Exactness needs 2^S / 2 ns > 40 ns; QEMU accepts shifts up to 10. */
#define INSTRUCTIONS_SHIFT_MIN 7u
#define INSTRUCTIONS_SHIFT_MAX 10u

typedef void (*instructions_call_t)(void *context);

/* Starts the timer and measures the measuring overhead for QEMU's `-icount shift=S`. False if
 * `shift` is outside [INSTRUCTIONS_SHIFT_MIN, INSTRUCTIONS_SHIFT_MAX]. */
bool instructions_start(uint32_t shift);

/* Instructions executed by `call(context)`, from its first instruction to its return included. */
uint32_t instructions_of(instructions_call_t call, void *context);

/* The overhead subtracted from every measurement, in instructions. */
uint32_t instructions_overhead(void);

/* A loop of exactly 2 * iterations + 1 instructions (iterations >= 1), for calibration tests:
 * `iterations` times a subtract and a branch, then the return. */
uint32_t instructions_of_known_loop(uint32_t iterations);

#endif
