/*
 * A test fixture: supervisor memory code written the way the embedded runtime's 6.x/7.x sources
 * were (see target/compat/README.md), to prove that such a file compiles and runs on the rig
 * unchanged, as a single file and inside a source tree. Written for heaprig from SPEC §1; it is
 * not the runtime's code.
 *
 * Like that era's code it has no init function (its globals start zeroed and it reads the arena
 * bounds when it needs them), sizes its handle table from the board's feature macros, keeps the
 * embedded list head in the VM state, and tells the displays about moves only when displays are
 * built in. Caller errors are assert()ed: a debug build stops there, a release build (-DNDEBUG)
 * returns NULL.
 *
 * Every block is [next | length + flags][data]; flags in the two low bits of the length.
 */
#include <string.h>

#include "supervisor/memory.h"
#include "supervisor/port.h"
#include "supervisor/shared/display.h"

#include "py/gc.h"

#define HOLE (0x1)
#define MOVABLE (0x2)
#define FLAGS (HOLE | MOVABLE)

#if CIRCUITPY_USB_MIDI && !CIRCUITPY_USB
#error "USB MIDI needs CIRCUITPY_USB"
#endif

#if INTERNAL_FLASH_FILESYSTEM == 0 && !defined(EXTERNAL_FLASH_DEVICES)
#error "a board without an internal filesystem lists its EXTERNAL_FLASH_DEVICES"
#endif

enum {
    CIRCUITPY_SUPERVISOR_IMMOVABLE_ALLOC_COUNT =
        // the VM's stack and heap
        2
        // the next code file to run
        + 1
#if INTERNAL_FLASH_FILESYSTEM == 0
        // the external flash driver's cache
        + 1
#endif
#if CIRCUITPY_USB
        // device, configuration and string descriptors
        + 3
#endif
#if CIRCUITPY_USB_HID
        // report descriptor and device list
        + 2
#endif
    ,
    CIRCUITPY_SUPERVISOR_MOVABLE_ALLOC_COUNT =
        0
#if CIRCUITPY_DISPLAYIO
#if CIRCUITPY_TERMINALIO
        // the terminal's tile grid
        + 1
#endif
        + CIRCUITPY_DISPLAY_LIMIT * (
#if CIRCUITPY_RGBMATRIX
            // an LED matrix keeps four buffers
            4
#elif CIRCUITPY_SHARPDISPLAY
            // a memory display keeps its framebuffer
            1
#else
            0
#endif
            )
#endif
    ,
    CIRCUITPY_SUPERVISOR_ALLOC_COUNT =
        CIRCUITPY_SUPERVISOR_IMMOVABLE_ALLOC_COUNT + CIRCUITPY_SUPERVISOR_MOVABLE_ALLOC_COUNT,
};

typedef struct _supervisor_allocation_node {
    struct _supervisor_allocation_node *next;
    size_t length;
    uint32_t data[];
} supervisor_allocation_node;

// Left global, as that era's code did.
supervisor_allocation_node *low_head;
supervisor_allocation_node *high_head;

static supervisor_allocation allocations[CIRCUITPY_SUPERVISOR_ALLOC_COUNT];
// Each handle's pointer before the move, for allocation_from_ptr() while clients are told.
static uint32_t *old_allocations[CIRCUITPY_SUPERVISOR_ALLOC_COUNT];
static bool moving;

static supervisor_allocation_node *node_of(uint32_t *ptr) {
    return ((supervisor_allocation_node *)ptr) - 1;
}

static size_t length_of(supervisor_allocation_node *node) {
    return node->length & ~FLAGS;
}

static uint32_t *end_of(supervisor_allocation_node *node) {
    return node->data + length_of(node) / 4;
}

static uint32_t *middle_bottom(void) {
    return low_head != NULL ? end_of(low_head) : port_heap_get_bottom();
}

static uint32_t *middle_top(void) {
    return high_head != NULL ? (uint32_t *)high_head : port_heap_get_top();
}

static size_t middle_bytes(void) {
    return (size_t)(middle_top() - middle_bottom()) * 4;
}

static supervisor_allocation *owner_of(uint32_t *ptr) {
    for (size_t i = 0; i < CIRCUITPY_SUPERVISOR_ALLOC_COUNT; i++) {
        if (allocations[i].ptr == ptr) {
            return &allocations[i];
        }
    }
    return NULL;
}

static supervisor_allocation_node *find_hole(supervisor_allocation_node *node, size_t length) {
    for (; node != NULL; node = node->next) {
        if ((node->length & HOLE) && length_of(node) == length) {
            return node;
        }
    }
    return NULL;
}

static supervisor_allocation_node *push(size_t length, bool high) {
    if (middle_bytes() < sizeof(supervisor_allocation_node) ||
        middle_bytes() - sizeof(supervisor_allocation_node) < length) {
        return NULL;
    }
    // While a VM runs its heap is the low head and must stay so.
    if (!high && gc_alloc_possible()) {
        return NULL;
    }
    supervisor_allocation_node *node;
    if (high) {
        node = (supervisor_allocation_node *)(middle_top() - (sizeof(*node) + length) / 4);
        node->next = high_head;
        high_head = node;
    } else {
        node = (supervisor_allocation_node *)middle_bottom();
        node->next = low_head;
        low_head = node;
    }
    return node;
}

static supervisor_allocation_node *place(size_t length, bool high, bool movable) {
    supervisor_allocation_node *node = find_hole(high ? high_head : low_head, length);
    if (node == NULL) {
        node = push(length, high);
    }
    if (node == NULL) {
        node = find_hole(high ? low_head : high_head, length);
    }
    if (node == NULL && movable && CIRCUITPY_SUPERVISOR_MOVABLE_ALLOC_COUNT > 0 &&
        gc_alloc_possible() && length <= SIZE_MAX - sizeof(supervisor_allocation_node)) {
        node = m_malloc_maybe(sizeof(supervisor_allocation_node) + length, true);
        if (node != NULL) {
            node->next = MP_STATE_VM(first_embedded_allocation);
            MP_STATE_VM(first_embedded_allocation) = node;
        }
    }
    if (node != NULL) {
        node->length = length | (movable ? MOVABLE : 0);
    }
    return node;
}

supervisor_allocation *allocate_memory(uint32_t length, bool high, bool movable) {
    if (length == 0 || length % 4 != 0) {
        return NULL;
    }
    // Movable blocks live on the low side only.
    assert(!(high && movable));
    if (high && movable) {
        return NULL;
    }
    if (CIRCUITPY_SUPERVISOR_MOVABLE_ALLOC_COUNT == 0) {
        movable = false;
    }
    supervisor_allocation *allocation = owner_of(NULL);
    if (allocation == NULL) {
        return NULL;
    }
    supervisor_allocation_node *node = place(length, high, movable);
    if (node == NULL) {
        return NULL;
    }
    allocation->ptr = node->data;
    return allocation;
}

supervisor_allocation *allocate_remaining_memory(void) {
    supervisor_allocation *allocation = owner_of(NULL);
    if (allocation == NULL || middle_bytes() < sizeof(supervisor_allocation_node) + 4) {
        return NULL;
    }
    size_t length = middle_bytes() - sizeof(supervisor_allocation_node);
    supervisor_allocation_node *node = push(length, false);
    if (node == NULL) {
        return NULL;
    }
    node->length = length;
    allocation->ptr = node->data;
    return allocation;
}

static supervisor_allocation_node **embedded_link_to(supervisor_allocation_node *node) {
    supervisor_allocation_node **link = &MP_STATE_VM(first_embedded_allocation);
    while (*link != NULL && *link != node) {
        link = &(*link)->next;
    }
    return *link == node ? link : NULL;
}

void free_memory(supervisor_allocation *allocation) {
    if (allocation == NULL || allocation->ptr == NULL) {
        return;
    }
    supervisor_allocation_node *node = node_of(allocation->ptr);
    supervisor_allocation_node **link = embedded_link_to(node);
    if (link != NULL) {
        *link = node->next;
        #if MICROPY_MALLOC_USES_ALLOCATED_SIZE
        m_free(node, sizeof(supervisor_allocation_node) + length_of(node));
        #else
        m_free(node);
        #endif
    } else if (node == low_head) {
        do {
            low_head = low_head->next;
        } while (low_head != NULL && (low_head->length & HOLE));
    } else if (node == high_head) {
        do {
            high_head = high_head->next;
        } while (high_head != NULL && (high_head->length & HOLE));
    } else {
        node->length |= HOLE;
    }
    allocation->ptr = NULL;
}

supervisor_allocation *allocation_from_ptr(void *ptr) {
    if (moving && ptr != NULL) {
        for (size_t i = 0; i < CIRCUITPY_SUPERVISOR_ALLOC_COUNT; i++) {
            if (old_allocations[i] == ptr) {
                return &allocations[i];
            }
        }
        return NULL;
    }
    return owner_of(ptr);
}

size_t get_allocation_length(supervisor_allocation *allocation) {
    if (allocation == NULL || allocation->ptr == NULL) {
        return 0;
    }
    return length_of(node_of(allocation->ptr));
}

// Moves one movable block down into the hole right below it; the hole goes above it.
static void sink(supervisor_allocation_node *above, supervisor_allocation_node *node) {
    supervisor_allocation_node *hole = node->next;
    size_t hole_length = length_of(hole);
    supervisor_allocation *owner = owner_of(node->data);
    assert(owner != NULL);
    supervisor_allocation_node *below = hole->next;
    memmove(hole, node, sizeof(supervisor_allocation_node) + length_of(node));
    supervisor_allocation_node *moved = hole;
    moved->next = below;
    hole = (supervisor_allocation_node *)end_of(moved);
    hole->next = moved;
    hole->length = hole_length | HOLE;
    if (above != NULL) {
        above->next = hole;
    } else {
        low_head = hole;
    }
    owner->ptr = moved->data;
}

static bool sink_one(void) {
    supervisor_allocation_node *above = NULL;
    for (supervisor_allocation_node *node = low_head; node != NULL; node = node->next) {
        if ((node->length & FLAGS) == MOVABLE && node->next != NULL && (node->next->length & HOLE)) {
            sink(above, node);
            return true;
        }
        above = node;
    }
    return false;
}

static supervisor_allocation_node *lowest_embedded(void) {
    supervisor_allocation_node *lowest = MP_STATE_VM(first_embedded_allocation);
    for (supervisor_allocation_node *node = lowest; node != NULL; node = node->next) {
        if (node < lowest) {
            lowest = node;
        }
    }
    return lowest;
}

static void promote(supervisor_allocation_node *node) {
    supervisor_allocation_node **link = embedded_link_to(node);
    assert(link != NULL);
    *link = node->next;
    size_t length = length_of(node);
    supervisor_allocation *owner = owner_of(node->data);
    assert(owner != NULL);
    supervisor_allocation_node *target = find_hole(low_head, length);
    if (target == NULL) {
        // The block lies in the free middle already, so there is room below it.
        assert(middle_bytes() >= sizeof(supervisor_allocation_node) + length);
        target = (supervisor_allocation_node *)middle_bottom();
        memmove(target, node, sizeof(supervisor_allocation_node) + length);
        target->next = low_head;
        low_head = target;
    } else {
        memmove(target->data, node->data, length);
    }
    target->length = length | MOVABLE;
    owner->ptr = target->data;
}

void supervisor_move_memory(void) {
    if (CIRCUITPY_SUPERVISOR_MOVABLE_ALLOC_COUNT == 0) {
        return;
    }
    for (size_t i = 0; i < CIRCUITPY_SUPERVISOR_ALLOC_COUNT; i++) {
        old_allocations[i] = allocations[i].ptr;
    }
    while (sink_one()) {
    }
    while (low_head != NULL && (low_head->length & HOLE)) {
        low_head = low_head->next;
    }
    for (supervisor_allocation_node *node = lowest_embedded(); node != NULL;
         node = lowest_embedded()) {
        promote(node);
    }
    moving = true;
    #if CIRCUITPY_DISPLAYIO
    supervisor_display_move_memory();
    #endif
    moving = false;
}
