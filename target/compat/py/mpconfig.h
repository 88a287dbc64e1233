/*
 * py/mpconfig.h for a backend written against the embedded runtime (target/compat/README.md).
 *
 * The runtime's build configuration, reduced to what supervisor memory code reads: the board
 * feature macros it counts its handle slots from, and how m_free() is called. Each is a default,
 * set only if the build has not: override any of them per backend with -D in BACKEND_CFLAGS
 * (`make test BACKEND=... BACKEND_CFLAGS="-DCIRCUITPY_USB_HID=1"`, a scenario's `backend: cflags`).
 *
 * The defaults describe a board whose 6.x/7.x supervisor memory code makes 8 handle slots, the
 * rig's default `slots:` (6 immovable: stack, heap, next-code record, 3 USB descriptors; 2
 * movable: terminal tile grid, one Sharp display framebuffer). target/compat/README.md shows the
 * count for other settings and how to match a scenario's `slots:`.
 */
#ifndef HEAPRIG_COMPAT_PY_MPCONFIG_H
#define HEAPRIG_COMPAT_PY_MPCONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <assert.h> /* the compat one: assert() reports through the rig */

/* ---- Display: the movable allocations (framebuffers, tile grids) ---------------------------- */

/* 1: displays are built in, and with them movable allocations and the move notification
 * (supervisor_display_move_memory). 0: a board with move support compiled out (SPEC R14, D2). */
#ifndef CIRCUITPY_DISPLAYIO
#define CIRCUITPY_DISPLAYIO 1
#endif

/* 1: the serial terminal's tile grid lives on the supervisor heap (one movable allocation). */
#ifndef CIRCUITPY_TERMINALIO
#define CIRCUITPY_TERMINALIO 1
#endif

/* How many displays the board can drive at once. */
#ifndef CIRCUITPY_DISPLAY_LIMIT
#define CIRCUITPY_DISPLAY_LIMIT 1
#endif

/* 1: RGB LED-matrix displays (several movable buffers per display). */
#ifndef CIRCUITPY_RGBMATRIX
#define CIRCUITPY_RGBMATRIX 0
#endif

/* 1: Sharp memory displays (one movable framebuffer per display). */
#ifndef CIRCUITPY_SHARPDISPLAY
#define CIRCUITPY_SHARPDISPLAY 1
#endif

/* ---- USB: immovable descriptor buffers ------------------------------------------------------ */

#ifndef CIRCUITPY_USB
#define CIRCUITPY_USB 1
#endif

#ifndef CIRCUITPY_USB_HID
#define CIRCUITPY_USB_HID 0
#endif

#ifndef CIRCUITPY_USB_MIDI
#define CIRCUITPY_USB_MIDI 0
#endif

/* ---- Storage -------------------------------------------------------------------------------- */

/* 1: the filesystem is in the chip's own flash. 0: in an external SPI flash chip, whose driver
 * keeps an immovable buffer on the supervisor heap. */
#ifndef INTERNAL_FLASH_FILESYSTEM
#define INTERNAL_FLASH_FILESYSTEM 1
#endif

/* The external flash parts a board may carry: the runtime's boards list part names. Left
 * undefined for an internal-flash board; an external-flash board with no list gets an empty one,
 * so `defined(EXTERNAL_FLASH_DEVICES)` tells the two apart as it does in the runtime. */
#if INTERNAL_FLASH_FILESYSTEM == 0 && !defined(EXTERNAL_FLASH_DEVICES)
#define EXTERNAL_FLASH_DEVICES
#endif

/* ---- Memory API ----------------------------------------------------------------------------- */

/* 1: m_free(ptr, bytes), the runtime's allocation-size tracking build. 0: m_free(ptr). */
#ifndef MICROPY_MALLOC_USES_ALLOCATED_SIZE
#define MICROPY_MALLOC_USES_ALLOCATED_SIZE 0
#endif

#endif
