/*
 * The allocator benchmark (issue 6): builds heap states deterministically and measures the
 * instructions of allocate_memory, free_memory, allocation_from_ptr and supervisor_move_memory
 * in each (bench.c). Results are JSON lines through the firmware core's writer (interp/report.h).
 */
#ifndef HEAPRIG_BENCH_H
#define HEAPRIG_BENCH_H

#include <stdbool.h>
#include <stdint.h>

/* The largest state the bench builds: live low blocks and embedded blocks. */
#define BENCH_LIVE_MAX 64u
#define BENCH_EMBEDDED_MAX 32u

/* What went wrong building or checking a state (NULL: nothing). */
typedef const char *bench_error_t;

/* One `bench` line for the state of `live` low blocks (1..BENCH_LIVE_MAX) and `embedded`
 * blocks (0..BENCH_EMBEDDED_MAX). */
bench_error_t bench_state(uint32_t live, uint32_t embedded);

/* One `calibrate` line: the known loop of `iterations`, expected against measured. */
void bench_calibrate(uint32_t iterations);

#endif
