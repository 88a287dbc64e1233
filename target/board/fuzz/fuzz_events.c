/*
 * libFuzzer's entry point (`make fuzz-native`, target/fuzz.mk): every input is one run of the
 * event interpreter on the native board (fuzz_board.h). Findings abort; libFuzzer keeps the input.
 */
#include <stddef.h>
#include <stdint.h>

#include "board/fuzz/fuzz_board.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const fuzz_outputs_t nowhere = {.events = NULL, .results = NULL};
    (void)fuzz_run_input(data, size, &nowhere);
    return 0; /* libFuzzer's "keep going"; anything else is reserved */
}
