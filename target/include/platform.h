/*
 * The boundary between the board (target/board/...) and the platform-neutral firmware core
 * (allocator, VM model, clients, event interpreter, result writer).
 */
#ifndef HEAPRIG_PLATFORM_H
#define HEAPRIG_PLATFORM_H

#include <stddef.h>
#include <stdnoreturn.h>

/* Exit status (PROTOCOL.md "Exit status"). */
typedef enum {
    EXIT_RAN_TO_END = 0,
    EXIT_CANNOT_START = 1,
    EXIT_PROTOCOL_ERROR = 2,
    EXIT_HEAP_BROKEN = 3,
    EXIT_FAULT = 4,
    EXIT_RESET_UNPROVEN = 5, /* a `reset` could not prove the rig is back to its boot state */
} heaprig_exit_t;

/* Reads up to n bytes of the event stream; returns the count, 0 at its end, -1 on error. */
int platform_read_events(char *buf, size_t n);
/* Appends n bytes to the results (one call a line; never buffered beyond the line). */
void platform_write_results(const char *buf, size_t n);
/* Ends the run with this status. */
noreturn void platform_exit(heaprig_exit_t status);

/* The firmware core's entry point, called by the board once its files are open. */
noreturn void heaprig_main(void);

#endif
