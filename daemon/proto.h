/* proto.h - the line protocol, pure: bytes in, requests or precise errors out.
 *
 * Nothing here touches a socket, a clock or Redis, so every function can be
 * unit-tested on byte strings and fuzzed.  The connection layer (conn.c) owns
 * the buffers; this module only looks at them.
 *
 * Framing: a request is one line ending in LF.  A CR right before the LF is
 * dropped; empty lines are skipped.  A line longer than max_line bytes (not
 * counting the LF / CRLF) yields PROTO_TOO_LONG once, after which the framer
 * discards input up to and including the next LF, so the connection stays
 * usable.
 */
#ifndef HOTLINE_PROTO_H
#define HOTLINE_PROTO_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

enum proto_frame_status {
	PROTO_NEED_MORE, /* no complete line in the bytes given; *consumed may be > 0 while discarding */
	PROTO_LINE,      /* *line / *line_len hold one line (no CR/LF); *consumed covers it and its LF */
	PROTO_TOO_LONG,  /* the current line exceeds max_line; answer line_too_long once */
};

struct proto_framer {
	size_t max_line;
	bool discarding; /* inside an overlong line, dropping bytes until LF */
};

void proto_framer_init(struct proto_framer *f, size_t max_line);

/* Look at the start of the buffered input (buf, len) and report what it
 * holds.  *consumed is how many bytes the caller must drop from the front of
 * its buffer before calling again.  Empty lines are consumed silently (the
 * function keeps scanning past them).  Never reads beyond len and never
 * needs more than max_line + 2 bytes to decide. */
enum proto_frame_status proto_frame(struct proto_framer *f, const char *buf, size_t len,
                                    const char **line, size_t *line_len, size_t *consumed);

/* A parsed request line.  Pointers point into the caller's line. */
struct proto_token {
	const char *p;
	size_t len;
};

/* Why a line was refused: the protocol error code (one of the wire codes,
 * e.g. "bad_request") and a human-readable message without CR/LF. */
struct proto_error {
	const char *code;
	char message[200];
};

/* True when [s, s+len) is well-formed UTF-8 (no overlongs, no surrogates,
 * nothing above U+10FFFF) and contains no NUL byte.  On failure *bad_offset
 * is the byte offset of the first offending byte. */
bool proto_valid_utf8(const char *s, size_t len, size_t *bad_offset);

/* Find the first control character other than tab in [s, s+len), which
 * must be valid UTF-8: C0 (U+0000..U+001F, CR and ESC among them), DEL
 * (U+007F) and C1 (U+0080..U+009F, encoded C2 80..C2 9F).  Returns true
 * and sets *offset (byte offset) and *code_point when there is one. */
bool proto_find_control(const char *s, size_t len, size_t *offset, unsigned *code_point);

/* Split off the next whitespace-delimited token (spaces and tabs) from
 * *cursor / *remaining, advancing them.  Returns false when only whitespace
 * remains. */
bool proto_next_token(const char **cursor, size_t *remaining, struct proto_token *tok);

/* Skip leading spaces and tabs. */
void proto_skip_space(const char **cursor, size_t *remaining);

/* Case-insensitive comparison of a token with a NUL-terminated lowercase or
 * uppercase word. */
bool proto_token_is(const struct proto_token *tok, const char *word);

/* Parse the rest of a line as exactly one JSON object (duplicate keys
 * rejected, nothing but whitespace after it).  An empty rest yields an empty
 * object when allow_empty is true.  Returns a new reference or NULL with err
 * filled: code "bad_request", message naming the problem and, for syntax
 * errors, the byte position within the line (offset_in_line is added to
 * jansson's position so the number refers to the whole request line). */
json_t *proto_parse_json_object(const char *text, size_t len, size_t offset_in_line, bool allow_empty,
                                struct proto_error *err);

/* Reply formatting.  Each returns a heap string that ends in "\n" and
 * contains no other LF or CR, and stores its length in *out_len.  The
 * message of an error is sanitised (control characters replaced by
 * spaces) so a reply is always exactly one line. */
char *proto_format_ok(const json_t *body /* may be NULL */, size_t *out_len);
char *proto_format_err(const char *code, const char *message, size_t *out_len);
/* A server-pushed line: "* <kind> <json>\n". */
char *proto_format_push(const char *kind, const json_t *body, size_t *out_len);

/* The wire error codes, in one place. */
#define ERR_BAD_REQUEST "bad_request"
#define ERR_UNKNOWN_COMMAND "unknown_command"
#define ERR_LINE_TOO_LONG "line_too_long"
#define ERR_AUTH_REQUIRED "auth_required"
#define ERR_AUTH_FAILED "auth_failed"
#define ERR_FORBIDDEN "forbidden"
#define ERR_NOT_FOUND "not_found"
#define ERR_CONFLICT "conflict"
#define ERR_UNAVAILABLE "unavailable"
#define ERR_RATE_LIMITED "rate_limited"
#define ERR_INTERNAL "internal"

#endif
