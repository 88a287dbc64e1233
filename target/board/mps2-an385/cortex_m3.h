/* The few Cortex-M3 system registers the board touches (ARMv7-M Architecture Reference Manual). */
#ifndef HEAPRIG_CORTEX_M3_H
#define HEAPRIG_CORTEX_M3_H

#include <stdint.h>

#define REGISTER(address) (*(volatile uint32_t *)(address))

/* System Control Block */
#define SCB_SHCSR REGISTER(0xE000ED24u) /* System Handler Control and State */
#define SCB_CFSR REGISTER(0xE000ED28u)  /* Configurable Fault Status */
#define SCB_HFSR REGISTER(0xE000ED2Cu)  /* HardFault Status */
#define SCB_MMFAR REGISTER(0xE000ED34u) /* MemManage Fault Address */
#define SCB_BFAR REGISTER(0xE000ED38u)  /* BusFault Address */
#define SCB_CCR REGISTER(0xE000ED14u)   /* Configuration and Control */

#define SHCSR_MEMFAULTENA (1u << 16)
#define SHCSR_BUSFAULTENA (1u << 17)
#define SHCSR_USGFAULTENA (1u << 18)
#define CCR_DIV_0_TRP (1u << 4)

/* SysTick */
#define SYST_CSR REGISTER(0xE000E010u) /* Control and Status */
#define SYST_RVR REGISTER(0xE000E014u) /* Reload Value */
#define SYST_CVR REGISTER(0xE000E018u) /* Current Value */

#define SYST_CSR_ENABLE (1u << 0)
#define SYST_CSR_TICKINT (1u << 1)
#define SYST_CSR_CLKSOURCE_CPU (1u << 2)
#define SYST_RVR_MAX 0x00FFFFFFu

/* Bit 2 of EXC_RETURN (the LR value on exception entry): the frame is on the process stack. */
#define EXC_RETURN_PROCESS_STACK (1u << 2)

#endif
