/* What the allocator needs from the port: the bounds of its arena [bottom, top), word aligned. */
#ifndef SUPERVISOR_PORT_H
#define SUPERVISOR_PORT_H

#include <stdint.h>

uint32_t *port_heap_get_bottom(void);
uint32_t *port_heap_get_top(void);

#endif
