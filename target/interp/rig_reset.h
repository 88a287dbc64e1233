/*
 * A `reset` event (PROTOCOL.md): the whole rig back to its boot state, proven, so that one boot
 * can run many scenarios one after the other and each sees exactly what a fresh boot would.
 *
 * Everything that resets lives in rig_reset(), in one place: the arena refilled with its initial
 * pattern, the allocator's state, the clients (and with them their move callbacks), the VM and
 * GC model. Then the proof: observable state checked against what a fresh boot has, by reading it
 * back through each module's own queries rather than trusting the resets just made. A failed proof
 * is a `reset_failed` result and exit status 5.
 */
#ifndef HEAPRIG_RIG_RESET_H
#define HEAPRIG_RIG_RESET_H

#include <stdint.h>

#include "vm/vm.h"

/* Resets the rig over a fresh arena of `arena_bytes` (already validated), proves the reset (or
 * ends the run with `reset_failed`), then makes the VM's stack for `stack` and restarts the
 * scenario's instruction count. `event` names the reset in a failure. */
void rig_reset(uint32_t event, uint32_t arena_bytes, vm_stack_config_t stack);

/* --- Implemented by each board: the instruction budget of the scenario being run ------------- */
/* Counting starts again from zero (at the end of every reset: the reset's own proof, which
 * reads the whole arena, is not charged to the scenario). */
void board_budget_restart(void);
/* The limit from now on, in instructions (0: none), counted from now. A board without an
 * instruction counter ignores it. */
void board_budget_set(uint64_t instructions);

#endif
