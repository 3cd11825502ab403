/*
 * Big-endian ("network order") field access for the Weave codec.
 *
 * Byte-by-byte shifts instead of memcpy + ntohl: no alignment assumptions,
 * no host-order dependency, and the compiler still turns them into single
 * loads/stores. Callers check bounds first; these helpers never do, which
 * keeps the bound checks visible at the place that knows the layout.
 */
#ifndef WEAVE_WIRE_H
#define WEAVE_WIRE_H

#include <stdint.h>
#include <string.h>

static inline uint16_t weave_get_u16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | (uint16_t)p[1]);
}

static inline uint32_t weave_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline uint64_t weave_get_u64(const uint8_t *p)
{
    return (uint64_t)weave_get_u32(p) << 32 | (uint64_t)weave_get_u32(p + 4);
}

/* An f32 travels as its bit pattern; memcpy is the defined way to reinterpret. */
static inline float weave_get_f32(const uint8_t *p)
{
    uint32_t bits = weave_get_u32(p);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static inline void weave_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void weave_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void weave_put_u64(uint8_t *p, uint64_t v)
{
    weave_put_u32(p, (uint32_t)(v >> 32));
    weave_put_u32(p + 4, (uint32_t)v);
}

static inline uint32_t weave_f32_bits(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    return bits;
}

static inline void weave_put_f32(uint8_t *p, float f)
{
    weave_put_u32(p, weave_f32_bits(f));
}

#endif /* WEAVE_WIRE_H */
