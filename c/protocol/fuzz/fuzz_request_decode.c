/*
 * libFuzzer target for the daemon's request decoder (the code that reads
 * untrusted bytes from the socket). Beyond "no crash, no sanitizer report":
 *   - a failure is a well-formed error reply: a client-side code, status
 *     derived from the code, non-empty UTF-8 message, and its encoding
 *     decodes back to the same (status, code, request_id);
 *   - a success re-encodes, the re-encoding decodes to equal fields, and
 *     encoding is a fixed point from there on.
 * Build: tools/fuzz/run_c_fuzz.sh
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weave/protocol.h"
#include "protocol/utf8.h"
#include "protocol/wire.h"

/* Canonical request: 16 + 60 + three 2048-byte prompts. */
#define MAX_CANONICAL (WEAVE_HEADER_SIZE + WEAVE_GENERATE_FIXED_SIZE + 3 * WEAVE_MAX_PROMPT_LEN)

#define REQUIRE(cond)                                                          \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__,         \
                    __LINE__, #cond);                                          \
            abort();                                                           \
        }                                                                      \
    } while (0)

static int client_code(uint32_t code)
{
    return (code >= 1 && code <= 7) || (code >= 11 && code <= 13);
}

static void check_error(const struct weave_error *err)
{
    REQUIRE(client_code(err->code));
    REQUIRE(err->status == 400 && err->status == weave_error_code_status(err->code));
    const char *nul = memchr(err->message, '\0', sizeof err->message);
    REQUIRE(nul != NULL && nul != err->message);
    size_t mlen = (size_t)(nul - err->message);
    REQUIRE(weave_utf8_valid((const uint8_t *)err->message, mlen));

    uint8_t buf[WEAVE_HEADER_SIZE + WEAVE_ERROR_FIXED_SIZE + WEAVE_MAX_ERROR_MESSAGE];
    size_t n = weave_encode_error(buf, sizeof buf, WEAVE_VERSION_MIN, err);
    REQUIRE(n == WEAVE_HEADER_SIZE + WEAVE_ERROR_FIXED_SIZE + mlen);
    struct weave_response r;
    struct weave_error err2;
    REQUIRE(weave_response_decode(buf, n, &r, &err2) == 0);
    REQUIRE(r.msg_type == WEAVE_MSG_ERROR);
    REQUIRE(r.u.error.request_id == err->request_id);
    REQUIRE(r.u.error.status == err->status && r.u.error.code == err->code);
    REQUIRE(r.u.error.message.len == mlen &&
            memcmp(r.u.error.message.data, err->message, mlen) == 0);
}

static int same_bytes(const struct weave_bytes *a, const struct weave_bytes *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static void check_same(const struct weave_request *a, const struct weave_request *b)
{
    REQUIRE(a->version == b->version && a->msg_type == b->msg_type);
    if (a->msg_type == WEAVE_MSG_STATUS_REQUEST) {
        REQUIRE(a->u.status.request_id == b->u.status.request_id);
        return;
    }
    const struct weave_generate_request *x = &a->u.generate, *y = &b->u.generate;
    REQUIRE(x->request_id == y->request_id && x->model_id == y->model_id);
    REQUIRE(x->width == y->width && x->height == y->height);
    REQUIRE(x->steps == y->steps && x->seed == y->seed);
    REQUIRE(weave_f32_bits(x->cfg_scale) == weave_f32_bits(y->cfg_scale));
    REQUIRE(same_bytes(&x->clip_l, &y->clip_l));
    REQUIRE(same_bytes(&x->clip_g, &y->clip_g));
    REQUIRE(same_bytes(&x->t5, &y->t5));
}

static size_t encode(const struct weave_request *r, uint8_t *buf, size_t cap)
{
    if (r->msg_type == WEAVE_MSG_STATUS_REQUEST)
        return weave_encode_status_request(buf, cap, r->version, &r->u.status);
    return weave_encode_generate_request(buf, cap, r->version, &r->u.generate);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct weave_request r, r2;
    struct weave_error err;

    if (weave_request_decode(data, size, &r, &err) != 0) {
        check_error(&err);
        return 0;
    }
    REQUIRE(r.msg_type == WEAVE_MSG_GENERATE_REQUEST ||
            r.msg_type == WEAVE_MSG_STATUS_REQUEST);

    uint8_t buf[MAX_CANONICAL], buf2[MAX_CANONICAL];
    size_t n = encode(&r, buf, sizeof buf);
    REQUIRE(n > 0);
    REQUIRE(weave_request_decode(buf, n, &r2, &err) == 0);
    check_same(&r, &r2);
    /* Canonical form is a fixed point. */
    size_t n2 = encode(&r2, buf2, sizeof buf2);
    REQUIRE(n2 == n && memcmp(buf, buf2, n) == 0);
    return 0;
}
