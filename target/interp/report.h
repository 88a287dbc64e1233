/*
 * The result writer (PROTOCOL.md "Results"): one JSON object a line, built field by field and
 * handed to platform_write_results() in one call when the line is complete. No printf: numbers and
 * strings are formatted here, so the firmware links no stdio.
 *
 *   report_begin("free"); report_u32("ev", 3); report_u32("id", 1); report_end();
 *   -> {"op":"free","ev":3,"id":1}
 *
 * Inside an array, pass NULL as the key. A line longer than the line buffer (a map of thousands of
 * holes) is still written whole and valid, in several calls: the only exception to one call a line.
 */
#ifndef HEAPRIG_REPORT_H
#define HEAPRIG_REPORT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Starts a line: {"op":"<op>" */
void report_begin(const char *op);
void report_u32(const char *key, uint32_t value);
void report_u64(const char *key, uint64_t value);
void report_bool(const char *key, bool value);
void report_null(const char *key);
void report_string(const char *key, const char *value);
void report_open_object(const char *key);
void report_close_object(void);
void report_open_array(const char *key);
void report_close_array(void);
/* Closes the line and writes it. */
void report_end(void);
/* Drops a line under construction (a fault interrupted it) so the next line starts clean. */
void report_abandon(void);

/* --- Text: a bounded string built with a tiny formatter ---------------------------------------
 * Conversions: %s (const char *), %u (uint32_t), %x (uint32_t, as 0x%08x), %%. Text beyond the
 * capacity is cut off, never overflowed. */
#define REPORT_TEXT_CAPACITY 200u

typedef struct {
    char chars[REPORT_TEXT_CAPACITY + 1]; /* always NUL-terminated */
    size_t length;
} report_text_t;

void report_text_clear(report_text_t *text);
void report_text_format(report_text_t *text, const char *format, ...);
void report_text_vformat(report_text_t *text, const char *format, va_list arguments);

#endif
