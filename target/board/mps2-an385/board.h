/* Board-internal declarations shared by startup.c and main.c. */
#ifndef HEAPRIG_BOARD_H
#define HEAPRIG_BOARD_H

#include <stdint.h>

/* The SysTick handler of the instruction budget (main.c). */
void budget_tick(void);

#endif
