/* Board-internal declarations shared by startup.c and main.c. */
#ifndef HEAPRIG_BOARD_H
#define HEAPRIG_BOARD_H

/* The SysTick handler: counts the instruction budget (main.c). */
void budget_tick(void);

#endif
