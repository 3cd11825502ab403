/*
 * libFuzzer target for the daemon's request decoder (the code that reads
 * untrusted bytes from the socket). Beyond "no crash, no sanitizer report":
 *   - a failure is a well-formed error reply: a client-side code, status
 *     derived from the code, non-empty UTF-8 message, and its encoding
 *     decodes back to the same (status, code, request_id);
 *   - a success re-encodes, the re-encoding decodes to equal fields, and
 *     encoding is a fixed point from there on.
 * Every input runs through the decoder serving 1..1 (the daemon's today) and
 * the one serving 1..2 (SPEC section 11); on a version-1 header the two must
 * agree.
 * Build: tools/fuzz/run_c_fuzz.sh
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weave/protocol.h"
#include "protocol/utf8.h"
#include "protocol/wire.h"

/* Canonical request: 16 + 68 (0x0005) + three 2048-byte prompts. */
#define MAX_CANONICAL (WEAVE_HEADER_SIZE + WEAVE_GENERATE_OPTIONS_FIXED_SIZE + 3 * WEAVE_MAX_PROMPT_LEN)

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
    REQUIRE(a->flags == b->flags);
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

/* Returns 0 when the input decoded (into *r), -1 when it was refused. */
static int one(const uint8_t *data, size_t size, uint16_t vmax,
               struct weave_request *r, struct weave_error *err)
{
    struct weave_request r2;

    if (weave_request_decode_versions(data, size, 1, vmax, r, err) != 0) {
        check_error(err);
        return -1;
    }
    REQUIRE(r->msg_type == WEAVE_MSG_GENERATE_REQUEST ||
            r->msg_type == WEAVE_MSG_STATUS_REQUEST ||
            (r->msg_type == WEAVE_MSG_GENERATE_OPTIONS && r->version == WEAVE_VERSION_2));
    REQUIRE(r->version >= 1 && r->version <= vmax);

    uint8_t buf[MAX_CANONICAL], buf2[MAX_CANONICAL];
    size_t n = weave_encode_request(buf, sizeof buf, r);
    REQUIRE(n > 0);
    REQUIRE(weave_request_decode_versions(buf, n, 1, vmax, &r2, err) == 0);
    check_same(r, &r2);
    /* Canonical form is a fixed point. */
    size_t n2 = weave_encode_request(buf2, sizeof buf2, &r2);
    REQUIRE(n2 == n && memcmp(buf, buf2, n) == 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct weave_request r1, r2;
    struct weave_error e1, e2;

    int rc1 = one(data, size, 1, &r1, &e1);
    int rc2 = one(data, size, WEAVE_VERSION_2, &r2, &e2);
    /* In a version-1 header both decoders give the same answer. */
    if (size >= WEAVE_HEADER_SIZE && data[4] == 0 && data[5] == 1) {
        REQUIRE(rc1 == rc2);
        if (rc1 == 0)
            check_same(&r1, &r2);
        else
            REQUIRE(e1.code == e2.code && e1.request_id == e2.request_id);
    }
    return 0;
}
