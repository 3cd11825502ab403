/*
 * Unit tests for the C codec that do not depend on the shared vectors:
 * error-code tables, weave_error_set, UTF-8 edge cases, the reply-size
 * function, encoder capacity checks, and hand-built decode cases (SPEC
 * check order, request_id echo, messages). Prints one line per case and
 * "N passed, N failed".
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weave/protocol.h"
#include "protocol/utf8.h"
#include "protocol/wire.h"
#include "unit.h"


/* The worked example of SPEC section 4: 118 bytes, "a cat in space". */
static const uint8_t EXAMPLE[118] = {
    0x57, 0x45, 0x56, 0x45, 0x00, 0x01, 0x00, 0x01, /* WEVE, v1, type 1 */
    0x00, 0x00, 0x00, 0x66, 0x00, 0x00, 0x00, 0x00, /* payload 102, reserved */
    0, 0, 0, 0, 0, 0, 0, 1,                         /* request_id 1 */
    0, 0, 0, 0,                                     /* model 0 */
    0, 0, 0x02, 0x00, 0, 0, 0x02, 0x00,             /* 512 x 512 */
    0, 0, 0, 28,                                    /* steps */
    0x40, 0xE0, 0x00, 0x00,                         /* cfg 7.0 */
    0, 0, 0, 0, 0, 0, 0, 0,                         /* seed 0 */
    0, 0, 0, 0, 0, 0, 0, 14,                        /* clip_l 0, 14 */
    0, 0, 0, 14, 0, 0, 0, 14,                       /* clip_g 14, 14 */
    0, 0, 0, 28, 0, 0, 0, 14,                       /* t5 28, 14 */
    'a', ' ', 'c', 'a', 't', ' ', 'i', 'n', ' ', 's', 'p', 'a', 'c', 'e',
    'a', ' ', 'c', 'a', 't', ' ', 'i', 'n', ' ', 's', 'p', 'a', 'c', 'e',
    'a', ' ', 'c', 'a', 't', ' ', 'i', 'n', ' ', 's', 'p', 'a', 'c', 'e',
};

/* A mutable copy of EXAMPLE with room to grow the payload. */
struct msg {
    uint8_t b[512];
    size_t len;
};

static void example(struct msg *m)
{
    memcpy(m->b, EXAMPLE, sizeof EXAMPLE);
    m->len = sizeof EXAMPLE;
}

/* Payload field helpers (offsets relative to the payload). */
static void set32(struct msg *m, size_t off, uint32_t v)
{
    weave_put_u32(m->b + WEAVE_HEADER_SIZE + off, v);
}

static void set_payload_len(struct msg *m, uint32_t plen)
{
    weave_put_u32(m->b + 8, plen);
    m->len = WEAVE_HEADER_SIZE + plen;
}

/* Decodes m as a request and checks the failure triple. */
static void expect_request_error(const struct msg *m, uint32_t code,
                                 uint64_t request_id, struct weave_error *err)
{
    struct weave_request r;
    CHECK(weave_request_decode(m->b, m->len, &r, err) == -1);
    CHECK(err->code == code);
    CHECK(err->status == weave_error_code_status(code));
    CHECK(err->request_id == request_id);
    CHECK(err->message[0] != '\0');
}

/* ---- cases ---------------------------------------------------------------- */

static void test_error_code_tables(void)
{
    static const uint32_t bad_request[] = {1, 2, 3, 4, 5, 6, 7, 11, 12, 13};
    static const uint32_t server[] = {8, 9, 10, 14, 99};
    for (size_t i = 0; i < sizeof bad_request / sizeof bad_request[0]; i++)
        CHECK(weave_error_code_status(bad_request[i]) == 400);
    for (size_t i = 0; i < sizeof server / sizeof server[0]; i++)
        CHECK(weave_error_code_status(server[i]) == 500);
    CHECK(weave_error_code_status(0) == 500);
    CHECK(weave_error_code_status(12345) == 500);

    CHECK(strcmp(weave_error_code_name(1), "invalid magic") == 0);
    CHECK(strcmp(weave_error_code_name(5), "invalid dimensions") == 0);
    CHECK(strcmp(weave_error_code_name(11), "malformed message") == 0);
    CHECK(strcmp(weave_error_code_name(13), "message too large") == 0);
    CHECK(strcmp(weave_error_code_name(99), "internal") == 0);
    CHECK(strcmp(weave_error_code_name(0), "none") == 0);
    CHECK(strcmp(weave_error_code_name(4242), "unknown error") == 0);
    for (uint32_t c = 0; c < 200; c++)
        CHECK(weave_error_code_name(c) != NULL);
}

static void test_error_set(void)
{
    struct weave_error err;
    weave_error_set(&err, 7, WEAVE_ERR_GPU, "backend said %d", 3);
    CHECK(err.request_id == 7 && err.code == 9 && err.status == 500);
    CHECK(strcmp(err.message, "backend said 3") == 0);

    weave_error_set(&err, 0, WEAVE_ERR_INVALID_STEPS, "%s", "");
    CHECK(err.status == 400);
    CHECK(strcmp(err.message, "invalid steps") == 0); /* never empty */

    /* 300 x U+00E9 (2 bytes each) must be cut at a character boundary. */
    char long_text[601];
    for (int i = 0; i < 300; i++) {
        long_text[2 * i] = (char)0xC3;
        long_text[2 * i + 1] = (char)0xA9;
    }
    long_text[600] = '\0';
    weave_error_set(&err, 1, WEAVE_ERR_INTERNAL, "xy%s", long_text);
    size_t n = strlen(err.message);
    CHECK(n <= WEAVE_MAX_ERROR_MESSAGE);
    CHECK(n == 254); /* "xy" + 126 characters; byte 255 would split one */
    CHECK(weave_utf8_valid((const uint8_t *)err.message, n));
    weave_error_set(&err, 1, WEAVE_ERR_INTERNAL, "x%s", long_text);
    CHECK(strlen(err.message) == 255); /* "x" + 127 characters fit exactly */
}

static void test_utf8(void)
{
    static const struct {
        const char *s;
        size_t len;
        size_t want; /* offset of the first bad byte, or len */
    } cases[] = {
        {"", 0, 0},
        {"plain ascii", 11, 11},
        {"\x00nul inside", 11, 11},
        {"\xC3\xA9", 2, 2},                /* U+00E9 */
        {"\xE2\x82\xAC", 3, 3},            /* U+20AC */
        {"\xF0\x9F\x90\xB1", 4, 4},        /* U+1F431 */
        {"\xED\x9F\xBF", 3, 3},            /* U+D7FF, just below surrogates */
        {"\xEE\x80\x80", 3, 3},            /* U+E000, just above */
        {"\xF4\x8F\xBF\xBF", 4, 4},        /* U+10FFFF, the last one */
        {"a\xC0\xAF", 3, 1},               /* overlong '/' */
        {"\xC1\xBF", 2, 0},                /* overlong */
        {"\xE0\x80\xAF", 3, 0},            /* overlong 3-byte */
        {"\xE0\x9F\xBF", 3, 0},            /* overlong 3-byte, top */
        {"\xF0\x8F\xBF\xBF", 4, 0},        /* overlong 4-byte */
        {"ab\xED\xA0\x80", 5, 2},          /* U+D800 surrogate */
        {"\xED\xBF\xBF", 3, 0},            /* U+DFFF surrogate */
        {"\xF4\x90\x80\x80", 4, 0},        /* U+110000 */
        {"\xF5\x80\x80\x80", 4, 0},
        {"\xFF", 1, 0},
        {"\x80", 1, 0},                    /* lone continuation */
        {"\xE2\x82", 2, 0},                /* truncated */
        {"\xF0\x9F\x90", 3, 0},            /* truncated */
        {"\xC3\x28", 2, 0},                /* bad continuation */
        {"ok\xE2\x28\xA1", 5, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t got = weave_utf8_check((const uint8_t *)cases[i].s, cases[i].len);
        if (got != cases[i].want)
            printf("\n    utf8 case %zu: got %zu want %zu", i, got, cases[i].want);
        CHECK(got == cases[i].want);
    }
    /* trim_partial: cut only an incomplete final sequence. */
    CHECK(weave_utf8_trim_partial((const uint8_t *)"ab\xE2\x82", 4) == 2);
    CHECK(weave_utf8_trim_partial((const uint8_t *)"ab\xE2\x82\xAC", 5) == 5);
    CHECK(weave_utf8_trim_partial((const uint8_t *)"ab\xF0", 3) == 2);
    CHECK(weave_utf8_trim_partial((const uint8_t *)"abc", 3) == 3);
    CHECK(weave_utf8_trim_partial((const uint8_t *)"", 0) == 0);
}

static void test_response_size(void)
{
    CHECK(weave_generate_response_size(1856, 1856, 3) == 16 + 32 + 1856u * 1856 * 3 + 8);
    CHECK(weave_generate_response_size(1856, 1856, 3) == 10334264);
    CHECK(weave_generate_response_size(1920, 1920, 3) == 0);
    CHECK(weave_generate_response_size(2048, 2048, 3) == 0);
    CHECK(weave_generate_response_size(2048, 1600, 3) == 56 + 2048u * 1600 * 3);
    CHECK(weave_generate_response_size(64, 64, 3) == 12344);
    CHECK(weave_generate_response_size(1, 1, 4) == 60);
    /* Exactly at the limit, and one byte over. */
    CHECK(weave_generate_response_size(10485704, 1, 1) == WEAVE_MAX_MESSAGE_SIZE);
    CHECK(weave_generate_response_size(10485705, 1, 1) == 0);
    /* Products that overflow 32 or 64 bits. */
    CHECK(weave_generate_response_size(UINT32_MAX, UINT32_MAX, UINT32_MAX) == 0);
    CHECK(weave_generate_response_size(65536, 65536, 4) == 0);
    CHECK(weave_generate_response_size(1, 1, UINT32_MAX) == 0);
    CHECK(weave_generate_response_size(0x80000000u, 2, 1) == 0);
    /* Zero is no image. */
    CHECK(weave_generate_response_size(0, 64, 3) == 0);
    CHECK(weave_generate_response_size(64, 0, 3) == 0);
    CHECK(weave_generate_response_size(64, 64, 0) == 0);
}

/*
 * Every capacity below the message size must be refused without writing
 * anything; the exact size must succeed.
 */
typedef size_t (*encode_fn)(uint8_t *buf, size_t cap, const void *value);

static void check_capacity(encode_fn fn, const void *value, size_t want)
{
    static uint8_t buf[70000];
    size_t n = fn(buf, sizeof buf, value);
    CHECK(n == want);
    if (n == 0 || n > sizeof buf)
        return;
    for (size_t cap = 0; cap < n; cap++) {
        memset(buf, 0xAA, n);
        size_t got = fn(buf, cap, value);
        CHECK(got == 0);
        int untouched = 1;
        for (size_t i = 0; i < n; i++)
            untouched &= buf[i] == 0xAA;
        CHECK(untouched);
        if (got != 0 || !untouched) {
            printf("    (capacity %zu of %zu)\n", cap, n);
            return;
        }
    }
    CHECK(fn(buf, n, value) == n);
}

static size_t enc_gen_req(uint8_t *buf, size_t cap, const void *v)
{
    return weave_encode_generate_request(buf, cap, 1, v);
}
static size_t enc_status_req(uint8_t *buf, size_t cap, const void *v)
{
    return weave_encode_status_request(buf, cap, 1, v);
}
static size_t enc_gen_resp(uint8_t *buf, size_t cap, const void *v)
{
    return weave_encode_generate_response(buf, cap, 1, v);
}
static size_t enc_status_resp(uint8_t *buf, size_t cap, const void *v)
{
    return weave_encode_status_response(buf, cap, 1, v);
}
static size_t enc_error(uint8_t *buf, size_t cap, const void *v)
{
    return weave_encode_error(buf, cap, 1, v);
}
static size_t enc_error_resp(uint8_t *buf, size_t cap, const void *v)
{
    return weave_encode_error_response(buf, cap, 1, v);
}

static struct weave_bytes text(const char *s)
{
    struct weave_bytes b = {(const uint8_t *)s, (uint32_t)strlen(s)};
    return b;
}

static void test_encoder_capacity(void)
{
    struct weave_generate_request g = {
        .request_id = 1, .width = 512, .height = 512, .steps = 28,
        .cfg_scale = 7.0f, .clip_l = text("a cat in space"),
        .clip_g = text("a cat in space"), .t5 = text("a cat in space"),
    };
    check_capacity(enc_gen_req, &g, sizeof EXAMPLE);

    struct weave_status_request s = {.request_id = 5};
    check_capacity(enc_status_req, &s, 24);

    static const uint8_t pixels[2 * 3 * 3];
    struct weave_generate_response r = {
        .request_id = 9, .status = 200, .width = 2, .height = 3, .channels = 3,
        .image = {pixels, sizeof pixels}, .has_seed = 1, .seed = 42,
    };
    check_capacity(enc_gen_resp, &r, 16 + 32 + 18 + 8);
    r.has_seed = 0;
    check_capacity(enc_gen_resp, &r, 16 + 32 + 18);

    struct weave_status_response st = {
        .request_id = 2, .status = 200, .version_min = 1, .version_max = 1,
        .backend = text("procedural"), .daemon_version = text("0.1.0"),
    };
    check_capacity(enc_status_resp, &st, 16 + 48 + 10 + 5);

    struct weave_error e;
    weave_error_set(&e, 3, WEAVE_ERR_INVALID_STEPS, "steps 0 is outside 1..100");
    check_capacity(enc_error, &e, 16 + 18 + strlen(e.message));

    struct weave_error_response er = {.request_id = 3, .status = 400, .code = 6,
                                      .message = text("")};
    check_capacity(enc_error_resp, &er, 16 + 18);
}

static void test_encoder_rules(void)
{
    static uint8_t buf[1024];
    static const uint8_t pixels[64];

    /* image_data_len must be width*height*channels. */
    struct weave_generate_response r = {
        .status = 200, .width = 4, .height = 4, .channels = 3,
        .image = {pixels, 47},
    };
    CHECK(weave_encode_generate_response(buf, sizeof buf, 1, &r) == 0);
    r.image.len = 48;
    CHECK(weave_encode_generate_response(buf, sizeof buf, 1, &r) == 16 + 32 + 48);
    /* Overflowing dimensions whose 32-bit product would wrap to the length. */
    r.width = 65536;
    r.height = 65536;
    r.channels = 4;
    r.image.len = 0;
    CHECK(weave_encode_generate_response(buf, sizeof buf, 1, &r) == 0);

    /* NULL pixels: the header is written, the pixels are left to the caller. */
    struct weave_generate_response big = {
        .status = 200, .width = 8, .height = 8, .channels = 3,
        .image = {NULL, 192}, .has_seed = 1, .seed = 0x0102030405060708u,
    };
    memset(buf, 0x77, sizeof buf);
    size_t n = weave_encode_generate_response(buf, sizeof buf, 1, &big);
    CHECK(n == 16 + 32 + 192 + 8);
    CHECK(buf[48] == 0x77 && buf[48 + 191] == 0x77);
    CHECK(weave_get_u64(buf + 48 + 192) == 0x0102030405060708u);

    /* Status strings are at most 255 bytes. */
    static char s256[257];
    memset(s256, 'b', 256);
    struct weave_status_response st = {.status = 200, .backend = text(s256)};
    CHECK(weave_encode_status_response(buf, sizeof buf, 1, &st) == 0);
    st.backend.len = 255;
    CHECK(weave_encode_status_response(buf, sizeof buf, 1, &st) == 16 + 48 + 255);

    /* A message over 10 MiB is refused before anything is copied (the
     * lengths are fake: the data behind them is never read). */
    static const uint8_t one[1] = {'x'};
    struct weave_generate_request g = {
        .clip_l = {one, UINT32_MAX}, .clip_g = {one, UINT32_MAX}, .t5 = {one, 1},
    };
    CHECK(weave_encode_generate_request(buf, SIZE_MAX, 1, &g) == 0);
    g.clip_l.len = WEAVE_MAX_PAYLOAD_SIZE - 60;
    g.clip_g.len = 0;
    g.t5.len = 1;
    CHECK(weave_encode_generate_request(buf, SIZE_MAX, 1, &g) == 0);

    /* Error message longer than its u16 field. */
    struct weave_error_response er = {.message = {one, 65536}};
    CHECK(weave_encode_error_response(buf, SIZE_MAX, 1, &er) == 0);

    /* A length without data cannot be copied. */
    struct weave_generate_request nodata = {.clip_l = {NULL, 3}};
    CHECK(weave_encode_generate_request(buf, sizeof buf, 1, &nodata) == 0);
}

static void test_example_request(void)
{
    struct weave_request r;
    struct weave_error err;
    CHECK(weave_request_decode(EXAMPLE, sizeof EXAMPLE, &r, &err) == 0);
    CHECK(r.version == 1 && r.msg_type == WEAVE_MSG_GENERATE_REQUEST);
    const struct weave_generate_request *g = &r.u.generate;
    CHECK(g->request_id == 1 && g->model_id == 0);
    CHECK(g->width == 512 && g->height == 512 && g->steps == 28);
    CHECK(g->cfg_scale == 7.0f && g->seed == 0);
    CHECK(g->clip_l.len == 14 && memcmp(g->clip_l.data, "a cat in space", 14) == 0);
    CHECK(g->clip_g.data == EXAMPLE + 76 + 14);
    CHECK(g->t5.data == EXAMPLE + 76 + 28 && g->t5.len == 14);

    uint8_t out[sizeof EXAMPLE];
    CHECK(weave_encode_generate_request(out, sizeof out, 1, g) == sizeof EXAMPLE);
    CHECK(memcmp(out, EXAMPLE, sizeof EXAMPLE) == 0);

    /* Trailing bytes after the declared payload are not part of it. */
    struct msg m;
    example(&m);
    m.b[m.len++] = 0xEE;
    CHECK(weave_request_decode(m.b, m.len, &r, &err) == 0);
}

static void test_header_order(void)
{
    struct msg m;
    struct weave_error err;

    /* Shorter than a header: malformed, nothing to echo. */
    example(&m);
    m.len = 15;
    expect_request_error(&m, WEAVE_ERR_MALFORMED, 0, &err);
    m.len = 0;
    expect_request_error(&m, WEAVE_ERR_MALFORMED, 0, &err);

    /* Magic beats version beats size beats type. */
    example(&m);
    m.b[0] = 'X';
    weave_put_u16(m.b + 4, 9);
    weave_put_u32(m.b + 8, 0xFFFFFFFFu);
    weave_put_u16(m.b + 6, 0x77);
    expect_request_error(&m, WEAVE_ERR_INVALID_MAGIC, 0, &err);
    m.b[0] = 'W';
    expect_request_error(&m, WEAVE_ERR_UNSUPPORTED_VERSION, 0, &err);
    weave_put_u16(m.b + 4, 1);
    expect_request_error(&m, WEAVE_ERR_TOO_LARGE, 0, &err);
    weave_put_u32(m.b + 8, 102);
    expect_request_error(&m, WEAVE_ERR_UNKNOWN_TYPE, 1, &err); /* id echoed */
    CHECK(strstr(err.message, "0x0077") != NULL);

    /* Version 0 is unsupported too. */
    example(&m);
    weave_put_u16(m.b + 4, 0);
    expect_request_error(&m, WEAVE_ERR_UNSUPPORTED_VERSION, 0, &err);

    /* Size bound: the largest payload passes the header check. */
    example(&m);
    weave_put_u32(m.b + 8, WEAVE_MAX_PAYLOAD_SIZE + 1);
    expect_request_error(&m, WEAVE_ERR_TOO_LARGE, 0, &err);
    weave_put_u32(m.b + 8, WEAVE_MAX_PAYLOAD_SIZE);
    expect_request_error(&m, WEAVE_ERR_MALFORMED, 1, &err); /* just truncated */

    /* A response type sent to the request decoder. */
    example(&m);
    weave_put_u16(m.b + 6, WEAVE_MSG_GENERATE_RESPONSE);
    expect_request_error(&m, WEAVE_ERR_UNKNOWN_TYPE, 1, &err);

    /* Unknown type without 8 payload bytes: nothing to echo. */
    example(&m);
    weave_put_u16(m.b + 6, 0x0100);
    set_payload_len(&m, 7);
    expect_request_error(&m, WEAVE_ERR_UNKNOWN_TYPE, 0, &err);
}

static void test_payload_length(void)
{
    struct msg m;
    struct weave_error err;

    /* Truncated: fewer bytes than payload_len says. */
    example(&m);
    m.len = sizeof EXAMPLE - 1;
    expect_request_error(&m, WEAVE_ERR_MALFORMED, 1, &err);
    m.len = WEAVE_HEADER_SIZE + 7;
    expect_request_error(&m, WEAVE_ERR_MALFORMED, 0, &err);

    /* Payload shorter than the fixed part: 11, id echoed from 8 bytes on. */
    example(&m);
    set_payload_len(&m, 59);
    expect_request_error(&m, WEAVE_ERR_MALFORMED, 1, &err);
    set_payload_len(&m, 8);
    expect_request_error(&m, WEAVE_ERR_MALFORMED, 1, &err);
    set_payload_len(&m, 7);
    expect_request_error(&m, WEAVE_ERR_MALFORMED, 0, &err);

    /* Status request: 8 bytes needed, extra bytes ignored. */
    struct weave_request r;
    example(&m);
    weave_put_u16(m.b + 6, WEAVE_MSG_STATUS_REQUEST);
    set_payload_len(&m, 7);
    expect_request_error(&m, WEAVE_ERR_MALFORMED, 0, &err);
    set_payload_len(&m, 8);
    CHECK(weave_request_decode(m.b, m.len, &r, &err) == 0);
    CHECK(r.msg_type == WEAVE_MSG_STATUS_REQUEST && r.u.status.request_id == 1);
    set_payload_len(&m, 20);
    CHECK(weave_request_decode(m.b, m.len, &r, &err) == 0);
}

static void test_field_order_and_messages(void)
{
    struct msg m;
    struct weave_error err;

    /* Everything wrong at once: model is checked first. */
    example(&m);
    set32(&m, 8, 1);
    set32(&m, 12, 100);
    set32(&m, 20, 0);
    set32(&m, 24, 0x7FC00000);
    set32(&m, 40, 0);
    expect_request_error(&m, WEAVE_ERR_INVALID_MODEL, 1, &err);
    set32(&m, 8, 0);
    expect_request_error(&m, WEAVE_ERR_INVALID_DIMENSIONS, 1, &err);
    CHECK(strcmp(err.message,
                 "width 100 is not a multiple of 64 (allowed 64..2048)") == 0);
    set32(&m, 12, 512);
    expect_request_error(&m, WEAVE_ERR_INVALID_STEPS, 1, &err);
    set32(&m, 20, 28);
    expect_request_error(&m, WEAVE_ERR_INVALID_CFG, 1, &err);
    set32(&m, 24, 0x40E00000);
    expect_request_error(&m, WEAVE_ERR_INVALID_PROMPT, 1, &err);
    CHECK(strstr(err.message, "clip_l") != NULL);

    /* Height is checked after width, and both ends of the range. */
    example(&m);
    set32(&m, 16, 2112);
    expect_request_error(&m, WEAVE_ERR_INVALID_DIMENSIONS, 1, &err);
    CHECK(strstr(err.message, "height 2112") != NULL);
    set32(&m, 16, 32);
    expect_request_error(&m, WEAVE_ERR_INVALID_DIMENSIONS, 1, &err);
    set32(&m, 16, 0);
    expect_request_error(&m, WEAVE_ERR_INVALID_DIMENSIONS, 1, &err);

    /* Steps 1 and 100 pass; 101 does not. */
    struct weave_request r;
    example(&m);
    set32(&m, 20, 100);
    CHECK(weave_request_decode(m.b, m.len, &r, &err) == 0);
    set32(&m, 20, 1);
    CHECK(weave_request_decode(m.b, m.len, &r, &err) == 0);
    set32(&m, 20, 101);
    expect_request_error(&m, WEAVE_ERR_INVALID_STEPS, 1, &err);
}

static void test_reply_size_refusal(void)
{
    struct msg m;
    struct weave_error err;
    struct weave_request r;

    example(&m);
    set32(&m, 12, 2048);
    set32(&m, 16, 2048);
    expect_request_error(&m, WEAVE_ERR_INVALID_DIMENSIONS, 1, &err);
    CHECK(strcmp(err.message,
                 "reply for 2048x2048 RGB would be 12582968 bytes, over the "
                 "10485760-byte limit; the largest square that fits is 1856x1856") == 0);

    /* Reply size is the last check: a bad prompt wins over it. */
    set32(&m, 56, 0);
    expect_request_error(&m, WEAVE_ERR_INVALID_PROMPT, 1, &err);

    example(&m);
    set32(&m, 12, 1856);
    set32(&m, 16, 1856);
    CHECK(weave_request_decode(m.b, m.len, &r, &err) == 0);
    set32(&m, 12, 1920);
    set32(&m, 16, 1920);
    expect_request_error(&m, WEAVE_ERR_INVALID_DIMENSIONS, 1, &err);
    /* Non-square that fits, and one that does not. */
    set32(&m, 12, 2048);
    set32(&m, 16, 1600);
    CHECK(weave_request_decode(m.b, m.len, &r, &err) == 0);
    set32(&m, 16, 1728);
    expect_request_error(&m, WEAVE_ERR_INVALID_DIMENSIONS, 1, &err);
}

static void test_cfg(void)
{
    static const struct {
        uint32_t bits;
        int ok;
    } cases[] = {
        {0x00000000, 1}, /* 0.0 */
        {0x80000000, 1}, /* -0.0 == 0.0 */
        {0x41A00000, 1}, /* 20.0 */
        {0x00000001, 1}, /* smallest subnormal */
        {0x41A00001, 0}, /* just above 20.0 */
        {0xBF800000, 0}, /* -1.0 */
        {0x80000001, 0}, /* tiny negative */
        {0x7F800000, 0}, /* +Inf */
        {0xFF800000, 0}, /* -Inf */
        {0x7FC00000, 0}, /* quiet NaN */
        {0x7F800001, 0}, /* signalling NaN */
        {0xFFFFFFFF, 0}, /* negative NaN */
    };
    struct msg m;
    struct weave_error err;
    struct weave_request r;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        example(&m);
        set32(&m, 24, cases[i].bits);
        int rc = weave_request_decode(m.b, m.len, &r, &err);
        if ((rc == 0) != cases[i].ok)
            printf("\n    cfg bits 0x%08X", (unsigned)cases[i].bits);
        CHECK((rc == 0) == cases[i].ok);
        if (!cases[i].ok)
            CHECK(err.code == WEAVE_ERR_INVALID_CFG && err.request_id == 1);
    }
}

static void test_prompts(void)
{
    struct msg m;
    struct weave_error err;
    struct weave_request r;

    /* Offset + len overflowing 32 bits must not wrap into range. */
    example(&m);
    set32(&m, 36, 0xFFFFFFFFu);
    expect_request_error(&m, WEAVE_ERR_INVALID_PROMPT, 1, &err);
    set32(&m, 36, 0xFFFFFFF4u); /* 0xFFFFFFF4 + 14 wraps to 2 */
    expect_request_error(&m, WEAVE_ERR_INVALID_PROMPT, 1, &err);
    /* Exactly at the end passes; one further does not. */
    set32(&m, 36, 42 - 14);
    CHECK(weave_request_decode(m.b, m.len, &r, &err) == 0);
    set32(&m, 36, 42 - 13);
    expect_request_error(&m, WEAVE_ERR_INVALID_PROMPT, 1, &err);

    /* Overlapping and repeated offsets are fine. */
    example(&m);
    set32(&m, 44, 0);
    set32(&m, 52, 3);
    set32(&m, 56, 5);
    CHECK(weave_request_decode(m.b, m.len, &r, &err) == 0);
    CHECK(r.u.generate.t5.len == 5 && memcmp(r.u.generate.t5.data, "at in", 5) == 0);

    /* Length 0 and 2049 are refused, for the later prompts too. */
    example(&m);
    set32(&m, 48, 0);
    expect_request_error(&m, WEAVE_ERR_INVALID_PROMPT, 1, &err);
    CHECK(strstr(err.message, "clip_g") != NULL);
    example(&m);
    set32(&m, 56, 2049);
    expect_request_error(&m, WEAVE_ERR_INVALID_PROMPT, 1, &err);
    CHECK(strstr(err.message, "t5") != NULL);

    /* A 2048-byte prompt is accepted. */
    example(&m);
    uint8_t big[16 + 60 + 2048];
    memcpy(big, m.b, 76);
    memset(big + 76, 'z', 2048);
    weave_put_u32(big + 8, 60 + 2048);
    for (int i = 0; i < 3; i++) {
        weave_put_u32(big + 16 + 36 + 8 * i, 0);
        weave_put_u32(big + 16 + 40 + 8 * i, 2048);
    }
    CHECK(weave_request_decode(big, sizeof big, &r, &err) == 0);

    /* Strict UTF-8 inside a prompt: overlong, surrogate, > U+10FFFF. */
    static const char *bad[] = {"\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xE2\x82"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        example(&m);
        memcpy(m.b + 16 + 60 + 28, bad[i], strlen(bad[i])); /* inside t5 */
        expect_request_error(&m, WEAVE_ERR_INVALID_PROMPT, 1, &err);
        CHECK(strstr(err.message, "t5") != NULL);
        CHECK(strstr(err.message, "UTF-8") != NULL);
    }
    /* A NUL byte is just a byte. */
    example(&m);
    m.b[16 + 60 + 1] = 0;
    CHECK(weave_request_decode(m.b, m.len, &r, &err) == 0);
}

/* A generate response built by hand: 2x1 RGB, optional tail bytes. */
static size_t build_response(uint8_t *b, size_t tail)
{
    static const uint8_t fixed[16 + 32 + 6] = {
        0x57, 0x45, 0x56, 0x45, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 9,   /* request_id 9 */
        0, 0, 0, 200,             /* status */
        0, 0, 0, 5,               /* time */
        0, 0, 0, 2, 0, 0, 0, 1,   /* 2 x 1 */
        0, 0, 0, 3, 0, 0, 0, 6,   /* channels 3, 6 bytes */
        1, 2, 3, 4, 5, 6,
    };
    memcpy(b, fixed, sizeof fixed);
    for (size_t i = 0; i < tail; i++)
        b[sizeof fixed + i] = (uint8_t)(0xA0 + i);
    weave_put_u32(b + 8, (uint32_t)(32 + 6 + tail));
    return sizeof fixed + tail;
}

static void test_responses(void)
{
    uint8_t b[128];
    struct weave_response r;
    struct weave_error err;

    size_t n = build_response(b, 0);
    CHECK(weave_response_decode(b, n, &r, &err) == 0);
    CHECK(r.msg_type == WEAVE_MSG_GENERATE_RESPONSE);
    CHECK(r.u.generate.request_id == 9 && !r.u.generate.has_seed);
    CHECK(r.u.generate.image.len == 6 && r.u.generate.image.data == b + 48);

    n = build_response(b, 7); /* 7 bytes: not a seed */
    CHECK(weave_response_decode(b, n, &r, &err) == 0 && !r.u.generate.has_seed);
    n = build_response(b, 8);
    CHECK(weave_response_decode(b, n, &r, &err) == 0 && r.u.generate.has_seed);
    CHECK(r.u.generate.seed == 0xA0A1A2A3A4A5A6A7u);

    /* Each rule is error 11. */
    static const struct {
        size_t off;
        uint32_t value;
    } breaks[] = {
        {16 + 8, 201},   /* status */
        {16 + 16, 0},    /* width */
        {16 + 20, 0},    /* height */
        {16 + 24, 2},    /* channels */
        {16 + 24, 4},    /* channels fine but length now wrong */
        {16 + 28, 5},    /* image_data_len */
        {16 + 28, 7},    /* longer than the payload */
        {16 + 16, 0x10000}, /* 0x10000 * 1 * 3 != 6 */
    };
    for (size_t i = 0; i < sizeof breaks / sizeof breaks[0]; i++) {
        n = build_response(b, 0);
        weave_put_u32(b + breaks[i].off, breaks[i].value);
        CHECK(weave_response_decode(b, n, &r, &err) == -1);
        CHECK(err.code == WEAVE_ERR_MALFORMED && err.status == 400);
    }
    /* width*height*channels that wraps 32 bits to the declared length. */
    n = build_response(b, 0);
    weave_put_u32(b + 32, 65536);
    weave_put_u32(b + 36, 65536);
    weave_put_u32(b + 40, 4);
    weave_put_u32(b + 44, 0);
    CHECK(weave_response_decode(b, n, &r, &err) == -1);

    /* A request type sent to the response decoder. */
    CHECK(weave_response_decode(EXAMPLE, sizeof EXAMPLE, &r, &err) == -1);
    CHECK(err.code == WEAVE_ERR_UNKNOWN_TYPE);
}

static void test_status_and_error_responses(void)
{
    uint8_t b[256];
    struct weave_response r;
    struct weave_error err;
    struct weave_status_response st = {
        .request_id = 4, .status = 200, .version_min = 1, .version_max = 1,
        .uptime_ms = 1000, .requests_served = 3, .connections_open = 1,
        .max_connections = 64, .queue_depth = 0,
        .backend = text("procedural"), .daemon_version = text("0.1.0"),
    };
    size_t n = weave_encode_status_response(b, sizeof b, 1, &st);
    CHECK(n == 16 + 48 + 15);
    CHECK(weave_response_decode(b, n, &r, &err) == 0);
    CHECK(r.u.status.backend.len == 10 && r.u.status.daemon_version.len == 5);
    CHECK(memcmp(r.u.status.daemon_version.data, "0.1.0", 5) == 0);
    /* backend_len one too many: it eats daemon_version_len. */
    weave_put_u16(b + 16 + 44, 10 + 6);
    CHECK(weave_response_decode(b, n, &r, &err) == -1 && err.code == 11);
    weave_put_u16(b + 16 + 44, 10);
    weave_put_u16(b + 16 + 56, 6); /* daemon_version_len */
    CHECK(weave_response_decode(b, n, &r, &err) == -1 && err.code == 11);
    weave_put_u16(b + 16 + 56, 5);
    weave_put_u32(b + 16 + 8, 500);
    CHECK(weave_response_decode(b, n, &r, &err) == -1 && err.code == 11);

    struct weave_error e;
    weave_error_set(&e, 77, WEAVE_ERR_BUSY, "too many connections");
    n = weave_encode_error(b, sizeof b, 1, &e);
    CHECK(weave_response_decode(b, n, &r, &err) == 0);
    CHECK(r.msg_type == WEAVE_MSG_ERROR && r.u.error.request_id == 77);
    CHECK(r.u.error.status == 500 && r.u.error.code == 14);
    CHECK(r.u.error.message.len == strlen("too many connections"));
    /* msg_len running past the payload. */
    weave_put_u16(b + 16 + 16, (uint16_t)(r.u.error.message.len + 1));
    CHECK(weave_response_decode(b, n, &r, &err) == -1 && err.code == 11);
    /* Unknown codes and statuses are accepted. */
    weave_put_u16(b + 16 + 16, 0);
    weave_put_u32(b + 16 + 8, 418);
    weave_put_u32(b + 16 + 12, 1234);
    CHECK(weave_response_decode(b, n, &r, &err) == 0 && r.u.error.code == 1234);
}

/* ---- driver ----------------------------------------------------------------- */


/* The request-header rules a daemon applies while a request arrives. */
static void test_request_header_rules(void)
{
    for (uint32_t t = 0; t <= 0xFFFF; t++)
        CHECK(weave_request_type_served((uint16_t)t) ==
              (t == WEAVE_MSG_GENERATE_REQUEST || t == WEAVE_MSG_STATUS_REQUEST));

    uint8_t id[8] = {0, 0, 0, 0, 0, 0, 0x12, 0x34};
    struct weave_header h = {WEAVE_MAGIC, 1, 0x0042, 8, 0};
    struct weave_error e;
    weave_request_type_error(&h, id, 8, &e);
    CHECK(e.status == 400 && e.code == WEAVE_ERR_UNKNOWN_TYPE && e.request_id == 0x1234);
    CHECK(strstr(e.message, "0x0042") != NULL);
    /* Not all 8 bytes yet, or fewer declared: 0, never waited for. */
    weave_request_type_error(&h, id, 7, &e);
    CHECK(e.code == WEAVE_ERR_UNKNOWN_TYPE && e.request_id == 0);
    h.payload_len = 7;
    weave_request_type_error(&h, id, 8, &e);
    CHECK(e.request_id == 0);

    /* The same error weave_request_decode gives for that message. */
    uint8_t msg[WEAVE_HEADER_SIZE + 8] = {0x57, 0x45, 0x56, 0x45, 0, 1, 0, 0x42,
                                          0, 0, 0, 8, 0, 0, 0, 0};
    memcpy(msg + WEAVE_HEADER_SIZE, id, 8);
    struct weave_request r;
    struct weave_error d;
    CHECK(weave_request_decode(msg, sizeof msg, &r, &d) == -1);
    h.payload_len = 8;
    weave_request_type_error(&h, id, 8, &e);
    CHECK(d.code == e.code && d.status == e.status && d.request_id == e.request_id &&
          strcmp(d.message, e.message) == 0);

    /* Echoed ids: only for served types, with 8 declared and arrived. */
    h.msg_type = WEAVE_MSG_GENERATE_REQUEST;
    CHECK(weave_request_echo_id(&h, id, 8) == 0x1234);
    CHECK(weave_request_echo_id(&h, id, 7) == 0);
    CHECK(weave_request_echo_id(&h, NULL, 0) == 0);
    h.msg_type = WEAVE_MSG_ERROR;
    CHECK(weave_request_echo_id(&h, id, 8) == 0);
    h.msg_type = WEAVE_MSG_STATUS_REQUEST;
    h.payload_len = 4;
    CHECK(weave_request_echo_id(&h, id, 8) == 0);
}

static const struct unit_case CASES[] = {
    {"error_code_tables", test_error_code_tables},
    {"request_header_rules", test_request_header_rules},
    {"error_set", test_error_set},
    {"utf8", test_utf8},
    {"response_size", test_response_size},
    {"encoder_capacity", test_encoder_capacity},
    {"encoder_rules", test_encoder_rules},
    {"example_request", test_example_request},
    {"header_order", test_header_order},
    {"payload_length", test_payload_length},
    {"field_order_and_messages", test_field_order_and_messages},
    {"reply_size_refusal", test_reply_size_refusal},
    {"cfg", test_cfg},
    {"prompts", test_prompts},
    {"responses", test_responses},
    {"status_and_error_responses", test_status_and_error_responses},
};

int main(void)
{
    return unit_run(CASES, sizeof CASES / sizeof CASES[0]);
}
