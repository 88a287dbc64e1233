#include "semihosting.h"

#include <string.h>

/* Operation numbers (ARM "Semihosting for AArch32 and AArch64", version 2.0). */
enum {
    SYS_OPEN = 0x01,
    SYS_CLOSE = 0x02,
    SYS_WRITE0 = 0x04,
    SYS_WRITE = 0x05,
    SYS_READ = 0x06,
    SYS_GET_CMDLINE = 0x15,
    SYS_EXIT_EXTENDED = 0x20,
};

/* SYS_EXIT_EXTENDED reason: the application finished; the subcode is its exit status. (Plain
 * SYS_EXIT on AArch32 carries no status: QEMU would exit 0 or 1.) */
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u

/* M-profile semihosting: BKPT 0xAB, the operation in r0, its argument (usually the address of a
 * block of words) in r1; the result comes back in r0. */
static int semihosting_call(uint32_t operation, const void *argument) {
    register uint32_t r0 __asm__("r0") = operation;
    register const void *r1 __asm__("r1") = argument;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return (int)r0;
}

int semihosting_open(const char *path, semihosting_open_mode_t mode) {
    const uint32_t block[] = {(uint32_t)path, (uint32_t)mode, (uint32_t)strlen(path)};
    return semihosting_call(SYS_OPEN, block);
}

int semihosting_close(int handle) {
    const uint32_t block[] = {(uint32_t)handle};
    return semihosting_call(SYS_CLOSE, block) == 0 ? 0 : -1;
}

int semihosting_read(int handle, void *buf, size_t n) {
    const uint32_t block[] = {(uint32_t)handle, (uint32_t)buf, (uint32_t)n};
    int not_read = semihosting_call(SYS_READ, block);
    /* SYS_READ answers with the number of bytes it could NOT read. */
    if (not_read < 0 || (size_t)not_read > n) {
        return -1;
    }
    return (int)(n - (size_t)not_read);
}

int semihosting_write(int handle, const void *buf, size_t n) {
    const uint32_t block[] = {(uint32_t)handle, (uint32_t)buf, (uint32_t)n};
    /* SYS_WRITE answers with the number of bytes it could NOT write. */
    return semihosting_call(SYS_WRITE, block) == 0 ? 0 : -1;
}

void semihosting_write_console(const char *text) {
    semihosting_call(SYS_WRITE0, text);
}

int semihosting_get_cmdline(char *buf, size_t size) {
    uint32_t block[] = {(uint32_t)buf, (uint32_t)size}; /* QEMU writes the length back */
    return semihosting_call(SYS_GET_CMDLINE, block) == 0 ? 0 : -1;
}

noreturn void semihosting_exit(uint32_t status) {
    const uint32_t block[] = {ADP_STOPPED_APPLICATION_EXIT, status};
    semihosting_call(SYS_EXIT_EXTENDED, block);
    for (;;) {
        /* Not reached: QEMU has exited. */
    }
}
