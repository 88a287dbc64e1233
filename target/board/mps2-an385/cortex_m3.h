/* The few Cortex-M3 system registers the board touches (ARMv7-M Architecture Reference Manual). */
#ifndef HEAPRIG_CORTEX_M3_H
#define HEAPRIG_CORTEX_M3_H

#include <stdint.h>

#define REGISTER(address) (*(volatile uint32_t *)(address))

/* System Control Block */
#define SCB_CCR REGISTER(0xE000ED14u)   /* Configuration and Control */
#define SCB_SHCSR REGISTER(0xE000ED24u) /* System Handler Control and State */
#define SCB_CFSR REGISTER(0xE000ED28u)  /* Configurable Fault Status */
#define SCB_HFSR REGISTER(0xE000ED2Cu)  /* HardFault Status */
#define SCB_MMFAR REGISTER(0xE000ED34u) /* MemManage Fault Address */
#define SCB_BFAR REGISTER(0xE000ED38u)  /* BusFault Address */

#define CCR_DIV_0_TRP (1u << 4)
#define SHCSR_MEMFAULTENA (1u << 16)
#define SHCSR_BUSFAULTENA (1u << 17)
#define SHCSR_USGFAULTENA (1u << 18)

/* Memory Protection Unit (PMSAv7) */
#define MPU_TYPE REGISTER(0xE000ED90u) /* DREGION: number of regions */
#define MPU_CTRL REGISTER(0xE000ED94u)
#define MPU_RNR REGISTER(0xE000ED98u)  /* region selected by RBAR/RASR */
#define MPU_RBAR REGISTER(0xE000ED9Cu) /* region base address (aligned to the region size) */
#define MPU_RASR REGISTER(0xE000EDA0u) /* region attributes and size */

#define MPU_TYPE_DREGION_SHIFT 8u
#define MPU_TYPE_DREGION_MASK 0xFFu
#define MPU_CTRL_ENABLE (1u << 0)
#define MPU_CTRL_PRIVDEFENA (1u << 2) /* privileged code keeps the default map outside regions */
#define MPU_RASR_ENABLE (1u << 0)
#define MPU_RASR_SIZE_SHIFT 1u         /* region size = 2^(SIZE + 1) bytes */
#define MPU_RASR_AP_NO_ACCESS (0u << 24)
#define MPU_RASR_XN (1u << 28)

/* SysTick */
#define SYST_CSR REGISTER(0xE000E010u) /* Control and Status */
#define SYST_RVR REGISTER(0xE000E014u) /* Reload Value */
#define SYST_CVR REGISTER(0xE000E018u) /* Current Value */

#define SYST_CSR_ENABLE (1u << 0)
#define SYST_CSR_TICKINT (1u << 1)
#define SYST_CSR_CLKSOURCE_CPU (1u << 2)
#define SYST_RVR_MAX 0x00FFFFFFu

/* Bit of EXC_RETURN (the LR value on exception entry) set when the frame is on the process
 * stack. A plain number: fault_entry uses it in assembly. */
#define EXC_RETURN_PROCESS_STACK_BIT 2
/* Stacked xPSR bit 9: the core inserted a padding word above the frame to align the stack. */
#define XPSR_STACK_PADDED (1u << 9)

#endif
