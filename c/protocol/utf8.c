/* Strict UTF-8 validation, following Unicode Table 3-7 (well-formed sequences). */
#include "protocol/utf8.h"

/*
 * Length of the sequence starting at s[0] (1..4) when it is well formed and
 * fits in `avail` bytes, otherwise 0. The allowed range of the second byte
 * depends on the lead byte: that is what rules out overlongs (E0, F0),
 * surrogates (ED) and code points above U+10FFFF (F4).
 */
static size_t sequence_len(const uint8_t *s, size_t avail)
{
    uint8_t b0 = s[0];
    size_t need;
    uint8_t lo = 0x80, hi = 0xBF; /* range of the second byte */

    if (b0 < 0x80)
        return 1;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 3;
        if (b0 == 0xE0)
            lo = 0xA0; /* below is an overlong 2-byte form */
        else if (b0 == 0xED)
            hi = 0x9F; /* above is a UTF-16 surrogate */
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 4;
        if (b0 == 0xF0)
            lo = 0x90; /* below is an overlong 3-byte form */
        else if (b0 == 0xF4)
            hi = 0x8F; /* above is past U+10FFFF */
    } else {
        return 0; /* 80..C1 (continuation or overlong lead), F5..FF */
    }
    if (avail < need)
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++) {
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    }
    return need;
}

size_t weave_utf8_check(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t n = sequence_len(s + i, len - i);
        if (n == 0)
            return i;
        i += n;
    }
    return len;
}

int weave_utf8_valid(const uint8_t *s, size_t len)
{
    return weave_utf8_check(s, len) == len;
}

size_t weave_utf8_trim_partial(const uint8_t *s, size_t len)
{
    /* Step back over at most 3 continuation bytes to the last lead byte. */
    size_t start = len;
    size_t back = 0;
    while (start > 0 && back < 3 && (s[start - 1] & 0xC0) == 0x80) {
        start--;
        back++;
    }
    if (start == 0)
        return len; /* only continuation bytes: nothing sensible to cut */
    uint8_t lead = s[start - 1];
    size_t want;
    if (lead < 0x80)
        return len; /* the tail is ASCII (or stray continuation bytes) */
    if ((lead & 0xE0) == 0xC0)
        want = 2;
    else if ((lead & 0xF0) == 0xE0)
        want = 3;
    else if ((lead & 0xF8) == 0xF0)
        want = 4;
    else
        return len;
    /* The lead is at start-1 and `back` continuation bytes follow it. */
    if (back + 1 < want)
        return start - 1;
    return len;
}
