/*
 * Walking a backend's heap from the outside (layout_walk.h).
 *
 * What the walk relies on, all of it SPEC §1, nothing of the backend's own code:
 *   - every block is a header [next | length + flags] right below its data (handle->ptr);
 *   - flags in the length's two low bits: HOLE (bit 0) and MOVABLE (bit 1), as the runtime's
 *     scheme has them;
 *   - low blocks tile [bottom, end of the low head) and link downwards, the lowest to NULL;
 *     high blocks tile [high head, top) and link upwards, the topmost to NULL;
 *   - neither head is a hole (R8), so each head is a block some live handle owns;
 *   - embedded blocks are linked from the rig's own root word, heaprig_embedded_root.
 * The live handles the rig knows (every client's, the VM's stack and heap) are the anchors: the
 * highest one whose chain runs down to `bottom` is the low head, the lowest whose chain runs up
 * to `top` the high head. A block no known handle owns is shown without an owner (a hole if its
 * HOLE flag says so). Every chain walk is bounded by the arena, so a broken backend ends a walk
 * early instead of hanging it.
 */
#include "rig/layout_walk.h"

#include "clients/clients.h"
#include "heaprig_config.h"
#include "vm/vm.h"

#define LAYOUT_HOLE 0x1u
#define LAYOUT_MOVABLE 0x2u
#define LAYOUT_FLAGS (LAYOUT_HOLE | LAYOUT_MOVABLE)
/* Every client may hold one allocation, and the VM its stack and its heap. */
#define ANCHOR_CAPACITY (HEAPRIG_MAX_CLIENTS + 2u)

typedef struct layout_header {
    struct layout_header *next;
    uintptr_t length_and_flags;
} layout_header_t;

_Static_assert(sizeof(layout_header_t) == SUPERVISOR_HEADER_BYTES,
               "the walked header is the SPEC §1 header");

typedef enum { CHAIN_LOW, CHAIN_HIGH, CHAIN_NEITHER } chain_t;

typedef struct {
    const supervisor_allocation *handles[ANCHOR_CAPACITY];
    uint32_t count;
    const char *bottom;
    const char *top;
} anchors_t;

/* ---- Headers inside the arena --------------------------------------------------------------- */

static bool header_inside(const anchors_t *anchors, const layout_header_t *header) {
    const char *at = (const char *)header;
    return header != NULL && ((uintptr_t)at % sizeof(uintptr_t)) == 0 && at >= anchors->bottom &&
           at <= anchors->top - sizeof(layout_header_t);
}

static uint32_t header_length(const layout_header_t *header) {
    return (uint32_t)(header->length_and_flags & ~(uintptr_t)LAYOUT_FLAGS);
}

/* The block's end, or NULL if its length runs past the arena. */
static const char *header_end(const anchors_t *anchors, const layout_header_t *header) {
    const char *data = (const char *)(header + 1);
    if (header_length(header) > (uintptr_t)(anchors->top - data)) {
        return NULL;
    }
    return data + header_length(header);
}

static layout_header_t *header_of(const supervisor_allocation *handle) {
    return ((layout_header_t *)handle->ptr) - 1;
}

/* The most headers a chain inside the arena can have: more steps mean a cycle. */
static uint32_t chain_limit(const anchors_t *anchors) {
    return (uint32_t)((anchors->top - anchors->bottom) / (ptrdiff_t)sizeof(layout_header_t)) + 1u;
}

/* ---- Anchors -------------------------------------------------------------------------------- */

static void add_anchor(anchors_t *anchors, const supervisor_allocation *handle) {
    if (handle != NULL && handle->ptr != NULL && anchors->count < ANCHOR_CAPACITY &&
        header_inside(anchors, header_of(handle))) {
        anchors->handles[anchors->count++] = handle;
    }
}

static void gather_anchors(anchors_t *anchors) {
    anchors->count = 0;
    anchors->bottom = (const char *)heaprig_heap_bottom();
    anchors->top = (const char *)heaprig_heap_top();
    add_anchor(anchors, vm_stack_allocation());
    add_anchor(anchors, vm_heap_allocation());
    for (uint32_t client = 0; client < HEAPRIG_MAX_CLIENTS; client++) {
        add_anchor(anchors, client_issued_handle(client));
    }
}

static supervisor_allocation *owner_of(const anchors_t *anchors, const layout_header_t *header) {
    for (uint32_t i = 0; i < anchors->count; i++) {
        if (header_of(anchors->handles[i]) == header) {
            return (supervisor_allocation *)anchors->handles[i];
        }
    }
    return NULL;
}

static bool on_embedded_list(const anchors_t *anchors, const layout_header_t *header) {
    const layout_header_t *node = (const layout_header_t *)heaprig_embedded_root;
    for (uint32_t steps = 0; node != NULL && steps < chain_limit(anchors); steps++) {
        if (node == header) {
            return true;
        }
        node = node->next;
    }
    return false;
}

/* Which side's chain `header` is on: where following its links ends. */
static chain_t chain_of(const anchors_t *anchors, const layout_header_t *header) {
    if (on_embedded_list(anchors, header)) {
        return CHAIN_NEITHER;
    }
    bool down = true;
    bool up = true;
    for (uint32_t steps = 0; steps < chain_limit(anchors); steps++) {
        if (!header_inside(anchors, header) || header_end(anchors, header) == NULL) {
            return CHAIN_NEITHER;
        }
        if (header->next == NULL) {
            if (down && (const char *)header == anchors->bottom) {
                return CHAIN_LOW;
            }
            if (up && header_end(anchors, header) == anchors->top) {
                return CHAIN_HIGH;
            }
            return CHAIN_NEITHER;
        }
        down = down && header->next < header;
        up = up && header->next > header;
        header = header->next;
    }
    return CHAIN_NEITHER;
}

/* ---- The walk ------------------------------------------------------------------------------- */

static void visit_block(const anchors_t *anchors, const layout_header_t *header,
                        heap_region_kind_t block_kind, heap_region_kind_t hole_kind,
                        heap_walker_t visit, void *context) {
    bool hole = (header->length_and_flags & LAYOUT_HOLE) != 0;
    heap_region_t region = {
        .kind = hole ? hole_kind : block_kind,
        .start = header,
        .length = header_length(header),
        .movable = (header->length_and_flags & LAYOUT_MOVABLE) != 0,
        .allocation = hole ? NULL : owner_of(anchors, header),
    };
    visit(&region, context);
}

/* Blocks tiling [from, to) one after the other; stops early at a header that does not fit. */
static void visit_side(const anchors_t *anchors, const char *from, const char *to, bool high,
                       heap_walker_t visit, void *context) {
    const char *at = from;
    while (at < to) {
        const layout_header_t *header = (const layout_header_t *)at;
        const char *end = header_inside(anchors, header) ? header_end(anchors, header) : NULL;
        if (end == NULL || end <= at || end > to) {
            return;
        }
        visit_block(anchors, header, high ? REGION_HIGH_BLOCK : REGION_LOW_BLOCK,
                    high ? REGION_HIGH_HOLE : REGION_LOW_HOLE, visit, context);
        at = end;
    }
}

void heaprig_layout_walk(heap_walker_t visit, void *context) {
    anchors_t anchors;
    gather_anchors(&anchors);
    const layout_header_t *low_head = NULL;
    const layout_header_t *high_head = NULL;
    for (uint32_t i = 0; i < anchors.count; i++) {
        const layout_header_t *header = header_of(anchors.handles[i]);
        chain_t chain = chain_of(&anchors, header);
        if (chain == CHAIN_LOW && (low_head == NULL || header > low_head)) {
            low_head = header;
        } else if (chain == CHAIN_HIGH && (high_head == NULL || header < high_head)) {
            high_head = header;
        }
    }
    const char *middle_start = low_head != NULL ? header_end(&anchors, low_head) : anchors.bottom;
    const char *middle_end = high_head != NULL ? (const char *)high_head : anchors.top;
    visit_side(&anchors, anchors.bottom, middle_start, false, visit, context);
    heap_region_t middle = {
        .kind = REGION_FREE_MIDDLE,
        .start = middle_start,
        .length = middle_end > middle_start ? (uint32_t)(middle_end - middle_start) : 0u,
        .movable = false,
        .allocation = NULL,
    };
    visit(&middle, context);
    visit_side(&anchors, middle_end, anchors.top, true, visit, context);

    const layout_header_t *node = (const layout_header_t *)heaprig_embedded_root;
    for (uint32_t steps = 0; header_inside(&anchors, node) && steps < chain_limit(&anchors);
         steps++) {
        if (header_end(&anchors, node) == NULL) {
            return;
        }
        visit_block(&anchors, node, REGION_EMBEDDED_BLOCK, REGION_EMBEDDED_BLOCK, visit, context);
        node = node->next;
    }
}
