/*
 * Strict UTF-8 validation (RFC 3629): no overlong forms, no surrogates
 * (U+D800..U+DFFF), nothing above U+10FFFF, no truncated sequences.
 */
#ifndef WEAVE_UTF8_H
#define WEAVE_UTF8_H

#include <stddef.h>
#include <stdint.h>

/*
 * Returns `len` when s[0..len) is valid UTF-8, otherwise the offset of the
 * first byte of the first invalid sequence. Never reads past len.
 */
size_t weave_utf8_check(const uint8_t *s, size_t len);

/* 1 when s[0..len) is valid UTF-8, 0 otherwise. */
int weave_utf8_valid(const uint8_t *s, size_t len);

/*
 * Length of the longest prefix of s[0..len) that does not end in the middle
 * of a multi-byte sequence. Used to cut a message at a character boundary
 * after truncation.
 */
size_t weave_utf8_trim_partial(const uint8_t *s, size_t len);

#endif /* WEAVE_UTF8_H */
