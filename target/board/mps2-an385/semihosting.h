/* ARM semihosting (the `bkpt 0xAB` interface QEMU answers with -semihosting-config enable=on). */
#ifndef HEAPRIG_SEMIHOSTING_H
#define HEAPRIG_SEMIHOSTING_H

#include <stddef.h>
#include <stdint.h>
#include <stdnoreturn.h>

typedef enum {
    SEMIHOSTING_OPEN_READ = 0,   /* fopen mode "r" */
    SEMIHOSTING_OPEN_WRITE = 4,  /* fopen mode "w": create or truncate */
} semihosting_open_mode_t;

/* A host file handle, or -1. */
int semihosting_open(const char *path, semihosting_open_mode_t mode);
/* Bytes read (0 at end of file), or -1 on error. */
int semihosting_read(int handle, void *buf, size_t n);
/* 0 when all n bytes were written, else -1. */
int semihosting_write(int handle, const void *buf, size_t n);
/* Writes a NUL-terminated string to the debug console (QEMU's stderr or stdout). */
void semihosting_write_console(const char *text);
/* The command line given with -semihosting-config arg=...; 0 on success, -1 otherwise. */
int semihosting_get_cmdline(char *buf, size_t size);
/* Ends the emulation; QEMU exits with `status`. */
noreturn void semihosting_exit(uint32_t status);

#endif
