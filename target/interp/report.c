/*
 * The JSON-lines result writer and the small text formatter behind every message.
 */
#include "interp/report.h"

#include "platform.h"

/* Big enough for every line but the map of a heap cut into hundreds of holes. */
#define LINE_BUFFER_BYTES 2048u
/* The line object, a map's region array, a region object: three levels, one to spare. */
#define MAX_NESTING 4u
/* Decimal digits of the largest uint64_t. */
#define U64_DIGITS 20u
#define HEX_DIGITS 8u
#define FIRST_PRINTABLE 0x20
#define LAST_PRINTABLE 0x7e

typedef struct {
    char line[LINE_BUFFER_BYTES];
    size_t used;
    /* Part of the current line already went out (it was longer than the buffer). */
    bool partly_written;
    /* Per open object/array: does it already hold an item (so the next needs a comma)? */
    bool has_items[MAX_NESTING];
    size_t depth;
} report_state_t;

static report_state_t report;

/* ---- Raw output --------------------------------------------------------------------------- */

static void flush_partial(void) {
    platform_write_results(report.line, report.used);
    report.used = 0;
    report.partly_written = true;
}

/* Every character of every line goes through here: inlined, it costs a bound check and a store,
 * where a call (with -Os) costs about twice that; with a map snapshot after every event the calls
 * were about a tenth of a scenario's instructions (demo/fragmentation: 303k, 273k inlined). */
__attribute__((always_inline)) static inline void put_char(char c) {
    if (report.used == LINE_BUFFER_BYTES) {
        flush_partial();
    }
    report.line[report.used++] = c;
}

static void put_raw(const char *text) {
    while (*text != '\0') {
        put_char(*text++);
    }
}

static char hex_digit(uint32_t nibble) {
    return "0123456789abcdef"[nibble & 0xfu];
}

/* The decimal digits of value, least significant first; returns how many. A 64-bit division is a
 * library call on the 32-bit core (tens of instructions a digit), one UDIV a 32-bit one, and the
 * values written are nearly all offsets, lengths and event numbers that fit 32 bits: only the
 * digits above 32 bits take the long way (with a map snapshot after every event the 64-bit
 * divisions were about a tenth of a scenario's instructions). */
static size_t decimal_digits_reversed(uint64_t value, char digits[U64_DIGITS]) {
    size_t count = 0;
    while (value > UINT32_MAX) {
        digits[count++] = (char)('0' + value % 10u);
        value /= 10u;
    }
    uint32_t low = (uint32_t)value;
    do {
        digits[count++] = (char)('0' + low % 10u);
        low /= 10u;
    } while (low != 0);
    return count;
}

static void put_u64(uint64_t value) {
    char digits[U64_DIGITS];
    size_t count = decimal_digits_reversed(value, digits);
    while (count > 0) {
        put_char(digits[--count]);
    }
}

/* A JSON string: quotes, backslashes and anything outside printable ASCII escaped. */
static void put_quoted(const char *text) {
    put_char('"');
    for (; *text != '\0'; text++) {
        unsigned char c = (unsigned char)*text;
        if (c == '"' || c == '\\') {
            put_char('\\');
            put_char((char)c);
        } else if (c < FIRST_PRINTABLE || c > LAST_PRINTABLE) {
            put_raw("\\u00");
            put_char(hex_digit(c >> 4));
            put_char(hex_digit(c));
        } else {
            put_char((char)c);
        }
    }
    put_char('"');
}

/* ---- Structure ---------------------------------------------------------------------------- */

/* The comma and `"key":` in front of every value; arrays take no key. */
static void put_key(const char *key) {
    if (report.has_items[report.depth]) {
        put_char(',');
    }
    report.has_items[report.depth] = true;
    if (key != NULL) {
        /* Keys are the firmware's own field names (PROTOCOL.md): plain ASCII, nothing to escape,
         * so they skip put_quoted's check of every character (a map line is mostly keys). */
        put_char('"');
        put_raw(key);
        put_raw("\":");
    }
}

static void open_level(char bracket) {
    put_char(bracket);
    if (report.depth + 1 < MAX_NESTING) {
        report.depth++;
        report.has_items[report.depth] = false;
    }
}

static void close_level(char bracket) {
    put_char(bracket);
    if (report.depth > 0) {
        report.depth--;
    }
}

void report_begin(const char *op) {
    report.used = 0;
    report.partly_written = false;
    report.depth = 0;
    report.has_items[0] = false;
    open_level('{');
    report_string("op", op);
}

void report_u32(const char *key, uint32_t value) {
    put_key(key);
    put_u64(value);
}

void report_u64(const char *key, uint64_t value) {
    put_key(key);
    put_u64(value);
}

void report_bool(const char *key, bool value) {
    put_key(key);
    put_raw(value ? "true" : "false");
}

void report_null(const char *key) {
    put_key(key);
    put_raw("null");
}

void report_string(const char *key, const char *value) {
    put_key(key);
    put_quoted(value);
}

void report_open_object(const char *key) {
    put_key(key);
    open_level('{');
}

void report_close_object(void) {
    close_level('}');
}

void report_open_array(const char *key) {
    put_key(key);
    open_level('[');
}

void report_close_array(void) {
    close_level(']');
}

void report_end(void) {
    close_level('}');
    put_char('\n');
    platform_write_results(report.line, report.used);
    report.used = 0;
    report.partly_written = false;
}

void report_abandon(void) {
    if (report.partly_written) {
        /* Its start is already out: end it so the next line is a line of its own. */
        platform_write_results("\n", 1);
    }
    report.used = 0;
    report.partly_written = false;
    report.depth = 0;
}

/* ---- Text --------------------------------------------------------------------------------- */

static void text_put(report_text_t *text, char c) {
    if (text->length < REPORT_TEXT_CAPACITY) {
        text->chars[text->length++] = c;
        text->chars[text->length] = '\0';
    }
}

static void text_put_string(report_text_t *text, const char *string) {
    while (*string != '\0') {
        text_put(text, *string++);
    }
}

static void text_put_u32(report_text_t *text, uint32_t value) {
    char digits[U64_DIGITS];
    size_t count = decimal_digits_reversed(value, digits);
    while (count > 0) {
        text_put(text, digits[--count]);
    }
}

static void text_put_hex(report_text_t *text, uint32_t value) {
    text_put_string(text, "0x");
    for (int shift = (HEX_DIGITS - 1) * 4; shift >= 0; shift -= 4) {
        text_put(text, hex_digit(value >> shift));
    }
}

void report_text_clear(report_text_t *text) {
    text->length = 0;
    text->chars[0] = '\0';
}

void report_text_vformat(report_text_t *text, const char *format, va_list arguments) {
    for (const char *cursor = format; *cursor != '\0'; cursor++) {
        if (*cursor != '%' || cursor[1] == '\0') {
            text_put(text, *cursor);
            continue;
        }
        cursor++;
        switch (*cursor) {
        case 's':
            text_put_string(text, va_arg(arguments, const char *));
            break;
        case 'u':
            text_put_u32(text, va_arg(arguments, uint32_t));
            break;
        case 'x':
            text_put_hex(text, va_arg(arguments, uint32_t));
            break;
        default:
            text_put(text, *cursor);
            break;
        }
    }
}

void report_text_format(report_text_t *text, const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    report_text_vformat(text, format, arguments);
    va_end(arguments);
}
