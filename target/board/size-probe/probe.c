/*
 * Links the backend the way a port would: only the runtime-facing API (SPEC §1.1) is referenced,
 * so the rig's own tooling (checker, walker, misuse report) is dropped by --gc-sections and
 * `make size` measures what a board pays. What the backend calls outside itself (the rig's side
 * of heaprig_backend.h) is in stand_ins.c, compiled separately and not counted.
 */
#include "heaprig_backend.h"

volatile uintptr_t size_probe_sink;

int main(void) {
    supervisor_allocation *allocation = allocate_memory(sizeof(uint32_t), false, true);
    size_probe_sink = (uintptr_t)allocate_remaining_memory();
    size_probe_sink = (uintptr_t)allocation_from_ptr(allocation->ptr);
    size_probe_sink = get_allocation_length(allocation);
    supervisor_move_memory();
    free_memory(allocation);
    return 0;
}
