/*
 * Faults: a failed assertion anywhere in the firmware core, and the board's reports of a HardFault
 * or an exhausted instruction budget (board_reports.h). Each prints one `fault` result naming the
 * event being run and exits with EXIT_FAULT (PROTOCOL.md).
 */
#ifndef HEAPRIG_FAULT_H
#define HEAPRIG_FAULT_H

#include <stdnoreturn.h>

/* Also declared (without noreturn) by supervisor_heap.h for the allocator's own assert macro. */
noreturn void heaprig_assert_failed(const char *file, int line, const char *expression);

/* For the rig's own invariants, which hold whatever the event stream says. */
#define HEAPRIG_ASSERT(expr) ((expr) ? (void)0 : heaprig_assert_failed(__FILE__, __LINE__, #expr))

#endif
