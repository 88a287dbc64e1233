/*
 * Links the allocator the way a port would: only the runtime-facing API (SPEC §1.1) plus the
 * move-callback registration and the GC root are referenced, so the rig's own tooling (checker,
 * walker, misuse report) is dropped by --gc-sections and `make size` measures what a board pays.
 * The GC and port functions are empty stand-ins, compiled separately and not counted.
 */
#include "supervisor_heap.h"

static void on_move(void *context) {
    (void)context;
}

volatile uintptr_t size_probe_sink;

int main(void) {
    supervisor_allocation *allocation = allocate_memory(sizeof(uint32_t), false, true);
    size_probe_sink = (uintptr_t)allocate_remaining_memory();
    size_probe_sink = (uintptr_t)allocation_from_ptr(allocation->ptr);
    size_probe_sink = get_allocation_length(allocation);
    size_probe_sink = supervisor_register_move_callback(on_move, NULL);
    size_probe_sink = (uintptr_t)supervisor_embedded_root();
    supervisor_move_memory();
    supervisor_unregister_move_callback(on_move, NULL);
    free_memory(allocation);
    return 0;
}
