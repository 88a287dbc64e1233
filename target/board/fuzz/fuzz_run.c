/*
 * One fuzz input, run once outside libFuzzer, with what it became written out:
 *
 *   fuzz-events-run [--dump EVENTS] [--results RESULTS] INPUT
 *
 * --dump writes the event stream the input turned into (every line handed to the interpreter:
 * the decoded events of a byte input, the text itself of a text input); it is written line by
 * line, so after a crash it ends with the event that crashed. That file is what
 * `python -m heaprig.differential --replay EVENTS` turns into a scenario. --results writes the
 * result lines (PROTOCOL.md).
 *
 * Exit status: the run's (PROTOCOL.md: 0, or 2 for a text input the parser rejected), 1 when the
 * command line or a file is wrong; a finding aborts, as under libFuzzer, after saying what broke.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "board/fuzz/fuzz_board.h"
#include "interp/interp.h"

#define USAGE "usage: fuzz-events-run [--dump EVENTS] [--results RESULTS] INPUT\n"

typedef struct {
    const char *dump;
    const char *results;
    const char *input;
} options_t;

static bool parse_options(int argc, char **argv, options_t *options) {
    *options = (options_t){NULL, NULL, NULL};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dump") == 0 && i + 1 < argc) {
            options->dump = argv[++i];
        } else if (strcmp(argv[i], "--results") == 0 && i + 1 < argc) {
            options->results = argv[++i];
        } else if (argv[i][0] != '-' && options->input == NULL) {
            options->input = argv[i];
        } else {
            return false;
        }
    }
    return options->input != NULL;
}

/* The whole file in memory (malloc'd, *size bytes), or NULL. */
static uint8_t *read_input(const char *path, size_t *size) {
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        return NULL;
    }
    size_t capacity = BUFSIZ;
    uint8_t *data = malloc(capacity);
    *size = 0;
    while (data != NULL) {
        *size += fread(data + *size, 1, capacity - *size, file);
        if (*size < capacity) {
            break;
        }
        uint8_t *bigger = realloc(data, capacity * 2u);
        if (bigger == NULL) {
            free(data);
        }
        data = bigger;
        capacity *= 2u;
    }
    bool failed = ferror(file) != 0;
    fclose(file);
    if (failed) {
        free(data);
        return NULL;
    }
    return data;
}

static FILE *open_output(const char *path) {
    if (path == NULL) {
        return NULL;
    }
    FILE *file = fopen(path, "wb");
    if (file == NULL) {
        perror(path);
        exit(EXIT_CANNOT_START);
    }
    return file;
}

int main(int argc, char **argv) {
    options_t options;
    if (!parse_options(argc, argv, &options)) {
        fprintf(stderr, USAGE);
        return EXIT_CANNOT_START;
    }
    size_t size;
    uint8_t *data = read_input(options.input, &size);
    if (data == NULL) {
        perror(options.input);
        return EXIT_CANNOT_START;
    }
    fuzz_outputs_t outputs = {open_output(options.dump), open_output(options.results)};
    heaprig_exit_t status = fuzz_run_input(data, size, &outputs);
    fprintf(stderr, "fuzz-events-run: %s: ran to event %u, exit %d\n", options.input,
            (unsigned)interp_current_event(), (int)status);
    free(data);
    if (outputs.events != NULL) {
        fclose(outputs.events);
    }
    if (outputs.results != NULL) {
        fclose(outputs.results);
    }
    return (int)status;
}
