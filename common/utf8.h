/*
 * utf8.h - UTF-8 text that is safe to put in a reply: validation, and cutting
 * on a character boundary.
 *
 * Error messages echo what a client sent (an unknown key, a function name);
 * they are bounded, and a cut in the middle of a multibyte character would
 * make the JSON reply invalid UTF-8 (RFC 8259 section 8.1). Every message
 * that echoes client text goes through utf8_echo(); everything else that must
 * be valid UTF-8 goes through utf8_copy().
 *
 * "Valid" is RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF. NUL counts as invalid here (C strings end at it).
 *
 * Pure functions; any thread.
 */
#ifndef CRUNCHD_UTF8_H
#define CRUNCHD_UTF8_H

#include <stddef.h>

/* The most bytes of client text one error message echoes (utf8_echo). */
#define UTF8_ECHO_MAX 64
/* Size of utf8_echo()'s buffer: the text, "..." when cut, and the NUL. */
#define UTF8_ECHO_SIZE (UTF8_ECHO_MAX + 4)

/* Length (1-4) of the valid UTF-8 character at s, which has n >= 1 bytes
 * left; 0 if s does not start a valid character. */
size_t utf8_seq(const char *s, size_t n);

/*
 * The length of the longest prefix of s[0..n) that is at most max bytes and
 * does not end inside a character. A byte that starts no valid character
 * counts as a character of its own, so invalid input is cut too.
 */
size_t utf8_cut(const char *s, size_t n, size_t max);

/*
 * Copies s[0..n) into dst (size >= 1 bytes) as valid UTF-8 and NUL-terminates
 * it: each byte that starts no valid character becomes '?', and what does not
 * fit is left out from a character boundary on. Returns the bytes written
 * (without the NUL); fewer than n also when bytes were left out.
 */
size_t utf8_copy(char *dst, size_t size, const char *s, size_t n);

/*
 * For messages that echo client text: utf8_copy() of at most UTF8_ECHO_MAX
 * bytes of s[0..n), followed by "..." when some were left out. Returns dst,
 * which holds UTF8_ECHO_SIZE bytes.
 */
const char *utf8_echo(char dst[UTF8_ECHO_SIZE], const char *s, size_t n);

#endif
