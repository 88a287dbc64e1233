/*
 * Line reader and tokenizer of the event stream.
 */
#include "interp/reader.h"

#include "platform.h"

#define READ_CHUNK_BYTES 256u
#define FIRST_PRINTABLE 0x20
#define LAST_PRINTABLE 0x7e

typedef struct {
    char chunk[READ_CHUNK_BYTES];
    size_t chunk_length;
    size_t chunk_position;
    bool at_end;
    /* The line, its '\r' included until dropped, plus the terminating NUL. */
    char line[READER_LINE_MAX + 2];
    size_t line_length;
    uint32_t line_number;
} reader_t;

static reader_t reader;

void reader_init(void) {
    reader = (reader_t){.at_end = false};
}

uint32_t reader_line_number(void) {
    return reader.line_number;
}

/* The next byte of the stream: 1 if one was read, 0 at the end, -1 on a read error. */
static int next_byte(char *byte) {
    if (reader.chunk_position == reader.chunk_length) {
        if (reader.at_end) {
            return 0;
        }
        int count = platform_read_events(reader.chunk, sizeof(reader.chunk));
        if (count < 0) {
            return -1;
        }
        if (count == 0 || (size_t)count > sizeof(reader.chunk)) {
            reader.at_end = true;
            return 0;
        }
        reader.chunk_length = (size_t)count;
        reader.chunk_position = 0;
    }
    *byte = reader.chunk[reader.chunk_position++];
    return 1;
}

read_status_t reader_next_line(void) {
    reader.line_length = 0;
    bool read_any = false;
    for (;;) {
        char byte;
        int got = next_byte(&byte);
        if (got < 0) {
            return READ_FAILED;
        }
        if (got == 0) {
            if (!read_any) {
                return READ_END;
            }
            break; /* a last line without '\n' */
        }
        if (!read_any) {
            read_any = true;
            reader.line_number++;
        }
        if (byte == '\n') {
            break;
        }
        /* One more than the limit is kept: it may be the '\r' of a line of exactly the limit. */
        if (reader.line_length == READER_LINE_MAX + 1) {
            return READ_TOO_LONG;
        }
        reader.line[reader.line_length++] = byte;
    }
    if (reader.line_length > 0 && reader.line[reader.line_length - 1] == '\r') {
        reader.line_length--;
    }
    if (reader.line_length > READER_LINE_MAX) {
        return READ_TOO_LONG;
    }
    reader.line[reader.line_length] = '\0';
    return READ_LINE;
}

bool reader_token_is(const char *token, const char *word) {
    while (*token != '\0' && *token == *word) {
        token++;
        word++;
    }
    return *token == *word;
}

line_tokens_t reader_split(void) {
    line_tokens_t result = {.kind = LINE_TOKENS, .count = 0};
    size_t first = 0;
    while (first < reader.line_length && reader.line[first] == ' ') {
        first++;
    }
    if (first == reader.line_length || reader.line[first] == '#') {
        result.kind = LINE_IGNORED;
        return result;
    }
    for (size_t i = 0; i < reader.line_length; i++) {
        unsigned char c = (unsigned char)reader.line[i];
        if (c < FIRST_PRINTABLE || c > LAST_PRINTABLE) {
            result.kind = LINE_BAD_CHAR;
            result.bad_char = c;
            result.bad_column = (uint32_t)i + 1;
            return result;
        }
    }
    for (size_t i = first; i < reader.line_length;) {
        if (reader.line[i] == ' ') {
            reader.line[i++] = '\0';
            continue;
        }
        if (result.count == READER_MAX_TOKENS) {
            result.kind = LINE_TOO_MANY;
            return result;
        }
        result.tokens[result.count++] = &reader.line[i];
        while (i < reader.line_length && reader.line[i] != ' ') {
            i++;
        }
    }
    return result;
}
