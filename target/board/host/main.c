/*
 * The host board: platform.h over stdio, so the firmware core runs as an ordinary program.
 *
 *   heaprig-host EVENTS RESULTS
 *
 * Same exit statuses as the firmware (PROTOCOL.md); 1 when the files cannot be opened. There is no
 * HardFault or instruction budget here: a crash is the host's own signal.
 */
#include <stdio.h>
#include <stdlib.h>

#include "interp/rig_reset.h"
#include "heaprig_backend.h"
#include "platform.h"

#define EXPECTED_ARGUMENTS 3

typedef struct {
    FILE *events;
    FILE *results;
} host_board_t;

static host_board_t board;

int platform_read_events(char *buf, size_t n) {
    size_t count = fread(buf, 1, n, board.events);
    if (count == 0 && ferror(board.events)) {
        return -1;
    }
    return (int)count;
}

void platform_write_results(const char *buf, size_t n) {
    /* Flushed line by line, so whatever happens next the results so far are on disk. */
    if (fwrite(buf, 1, n, board.results) != n || fflush(board.results) != 0) {
        fprintf(stderr, "heaprig-host: cannot write the results\n");
    }
}

/* No instruction counter on the host: only the harness's wall-clock limit applies. */
void board_budget_restart(void) {
}

void board_budget_set(uint64_t instructions) {
    (void)instructions;
}

noreturn void platform_exit(heaprig_exit_t status) {
    if (board.results != NULL) {
        fclose(board.results);
    }
    if (board.events != NULL) {
        fclose(board.events);
    }
    exit((int)status);
}

int main(int argc, char **argv) {
    /* Before anything can call the backend: the image every scenario's reset puts back. */
    if (!heaprig_backend_snapshot()) {
        fprintf(stderr, "heaprig-host: the backend's initialised data exceeds "
                        "HEAPRIG_BACKEND_DATA_MAX\n");
        platform_exit(EXIT_CANNOT_START);
    }
    if (argc != EXPECTED_ARGUMENTS) {
        fprintf(stderr, "usage: heaprig-host EVENTS RESULTS\n");
        platform_exit(EXIT_CANNOT_START);
    }
    board.events = fopen(argv[1], "rb");
    if (board.events == NULL) {
        perror(argv[1]);
        platform_exit(EXIT_CANNOT_START);
    }
    board.results = fopen(argv[2], "wb");
    if (board.results == NULL) {
        perror(argv[2]);
        platform_exit(EXIT_CANNOT_START);
    }
    heaprig_main();
}
