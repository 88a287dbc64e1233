/* ARM semihosting (the `bkpt 0xAB` interface QEMU answers with -semihosting-config enable=on). */
#ifndef HEAPRIG_SEMIHOSTING_H
#define HEAPRIG_SEMIHOSTING_H

#include <stddef.h>
#include <stdint.h>
#include <stdnoreturn.h>

typedef enum {
    SEMIHOSTING_OPEN_READ = 0,  /* fopen mode "r" */
    SEMIHOSTING_OPEN_WRITE = 4, /* fopen mode "w": create or truncate */
} semihosting_open_mode_t;

/* A host file handle, or -1. */
int semihosting_open(const char *path, semihosting_open_mode_t mode);
/* 0, or -1 on error. */
int semihosting_close(int handle);
/* Bytes read (0 at end of file), or -1 on error. QEMU reports a host read error as "nothing
 * read", so in practice an error looks like the end of the file. */
int semihosting_read(int handle, void *buf, size_t n);
/* 0 when all n bytes were written, else -1. */
int semihosting_write(int handle, const void *buf, size_t n);
/* Writes a NUL-terminated string to the debug console (QEMU's stderr). */
void semihosting_write_console(const char *text);
/* The command line QEMU built from -semihosting-config arg=... (the values joined by single
 * spaces, no quoting); 0 on success, -1 when it does not fit in `size` bytes with its NUL. */
int semihosting_get_cmdline(char *buf, size_t size);
/* Ends the emulation; QEMU exits with `status` (the host keeps its low 8 bits). */
noreturn void semihosting_exit(uint32_t status);

#endif
