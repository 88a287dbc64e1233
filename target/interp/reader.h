/*
 * The event stream, line by line (PROTOCOL.md "Event stream"): reads through
 * platform_read_events(), splits lines at '\n' (a trailing '\r' dropped; the last line may lack
 * its '\n'), and splits a line into space-separated tokens. It only reports what it finds;
 * the interpreter decides what is a protocol error.
 */
#ifndef HEAPRIG_READER_H
#define HEAPRIG_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest line the protocol allows, line end excluded. */
#define READER_LINE_MAX 120u
/* An event name and at most this many arguments minus one; more is "too many arguments". */
#define READER_MAX_TOKENS 8u

typedef enum {
    READ_LINE,       /* a line is in the reader */
    READ_END,        /* end of the stream */
    READ_TOO_LONG,   /* the line is longer than READER_LINE_MAX */
    READ_FAILED,     /* platform_read_events() reported an error */
} read_status_t;

typedef enum {
    LINE_IGNORED,    /* blank or comment: not an event */
    LINE_TOKENS,     /* tokens split */
    LINE_BAD_CHAR,   /* a character other than printable ASCII: `bad_char` */
    LINE_TOO_MANY,   /* more than READER_MAX_TOKENS tokens */
} line_kind_t;

typedef struct {
    line_kind_t kind;
    size_t count;
    const char *tokens[READER_MAX_TOKENS];
    unsigned char bad_char;
    uint32_t bad_column; /* 1-based */
} line_tokens_t;

/* Starts reading the stream from its beginning. */
void reader_init(void);
/* Reads the next line. */
read_status_t reader_next_line(void);
/* The number of the line last read (1-based; the number of lines read so far). */
uint32_t reader_line_number(void);
/* Is the token exactly this word? */
bool reader_token_is(const char *token, const char *word);
/* Splits the line last read (in place: the tokens live until the next read). */
line_tokens_t reader_split(void);

#endif
