/*
 * Request decoder: the daemon's side (SPEC sections 4 and 7). Checks run in
 * exactly the SPEC order, because the first failure decides the reply.
 */
#include <math.h>
#include <string.h>

#include "layout.h"
#include "protocol_internal.h"
#include "weave/protocol.h"
#include "protocol/utf8.h"
#include "protocol/wire.h"

#define SIDE_MIN 64u
#define SIDE_MAX 2048u
#define SIDE_STEP 64u
#define STEPS_MIN 1u
#define STEPS_MAX 100u
#define CFG_MAX 20.0f


int weave_request_type_served(uint16_t msg_type)
{
    return msg_type == WEAVE_MSG_GENERATE_REQUEST ||
           msg_type == WEAVE_MSG_STATUS_REQUEST;
}

uint64_t weave_request_echo_id(const struct weave_header *hdr,
                               const uint8_t *payload, size_t got)
{
    if (!weave_request_type_served(hdr->msg_type))
        return 0;
    return weave_payload_request_id(payload, got, hdr->payload_len);
}

void weave_request_type_error(const struct weave_header *hdr,
                              const uint8_t *payload, size_t got,
                              struct weave_error *err)
{
    weave_unknown_type_error(err, weave_payload_request_id(payload, got,
                                                           hdr->payload_len),
                             hdr->msg_type, "request");
}

static int check_side(const char *name, uint32_t v, uint64_t request_id,
                      struct weave_error *err)
{
    if (v < SIDE_MIN || v > SIDE_MAX) {
        weave_error_set(err, request_id, WEAVE_ERR_INVALID_DIMENSIONS,
                        "%s %u is outside %u..%u (multiples of %u)", name,
                        (unsigned)v, SIDE_MIN, SIDE_MAX, SIDE_STEP);
        return -1;
    }
    if (v % SIDE_STEP != 0) {
        weave_error_set(err, request_id, WEAVE_ERR_INVALID_DIMENSIONS,
                        "%s %u is not a multiple of %u (allowed %u..%u)", name,
                        (unsigned)v, SIDE_STEP, SIDE_MIN, SIDE_MAX);
        return -1;
    }
    return 0;
}

static int check_cfg(float cfg, uint64_t request_id, struct weave_error *err)
{
    uint32_t bits = weave_f32_bits(cfg);
    if (isnan(cfg)) {
        weave_error_set(err, request_id, WEAVE_ERR_INVALID_CFG,
                        "cfg_scale is NaN (bits 0x%08X); it must be finite, 0.0..20.0",
                        (unsigned)bits);
        return -1;
    }
    if (isinf(cfg)) {
        weave_error_set(err, request_id, WEAVE_ERR_INVALID_CFG,
                        "cfg_scale is %sinfinity; it must be finite, 0.0..20.0",
                        cfg < 0 ? "-" : "+");
        return -1;
    }
    /* -0.0 compares equal to 0.0 and is accepted, as in any IEEE language. */
    if (cfg < 0.0f || cfg > CFG_MAX) {
        weave_error_set(err, request_id, WEAVE_ERR_INVALID_CFG,
                        "cfg_scale %.9g (bits 0x%08X) is outside 0.0..20.0",
                        (double)cfg, (unsigned)bits);
        return -1;
    }
    return 0;
}

/*
 * One prompt: length range, then bounds inside prompt_data (as
 * "len <= size - offset" after "offset <= size", which cannot wrap), then
 * strict UTF-8. `field` points at the prompt's (offset, len) pair.
 */
static int decode_prompt(const char *name, const uint8_t *field,
                         const uint8_t *data, uint32_t size,
                         uint64_t request_id, struct weave_bytes *out,
                         struct weave_error *err)
{
    uint32_t off = weave_get_u32(field);
    uint32_t len = weave_get_u32(field + 4);

    if (len == 0) {
        weave_error_set(err, request_id, WEAVE_ERR_INVALID_PROMPT,
                        "%s prompt is empty (length must be 1..%u)", name,
                        WEAVE_MAX_PROMPT_LEN);
        return -1;
    }
    if (len > WEAVE_MAX_PROMPT_LEN) {
        weave_error_set(err, request_id, WEAVE_ERR_INVALID_PROMPT,
                        "%s prompt is %u bytes, over the %u-byte limit", name,
                        (unsigned)len, WEAVE_MAX_PROMPT_LEN);
        return -1;
    }
    if (off > size || len > size - off) {
        weave_error_set(err, request_id, WEAVE_ERR_INVALID_PROMPT,
                        "%s prompt (offset %u, length %u) runs past the %u bytes of prompt_data",
                        name, (unsigned)off, (unsigned)len, (unsigned)size);
        return -1;
    }
    size_t bad = weave_utf8_check(data + off, len);
    if (bad != len) {
        weave_error_set(err, request_id, WEAVE_ERR_INVALID_PROMPT,
                        "%s prompt is not valid UTF-8 (bad sequence at byte %zu of %u)",
                        name, bad, (unsigned)len);
        return -1;
    }
    out->data = data + off;
    out->len = len;
    return 0;
}

/* Largest square side (a valid request side) whose RGB reply fits. */
static uint32_t largest_fitting_square(void)
{
    for (uint32_t s = SIDE_MAX; s >= SIDE_MIN; s -= SIDE_STEP) {
        if (weave_generate_response_size(s, s, WEAVE_DAEMON_CHANNELS) != 0)
            return s;
    }
    return 0;
}

static int check_reply_fits(uint32_t w, uint32_t h, uint64_t request_id,
                            struct weave_error *err)
{
    if (weave_generate_response_size(w, h, WEAVE_DAEMON_CHANNELS) != 0)
        return 0;
    /* w, h <= 2048 here, so this cannot overflow. */
    uint64_t would = (uint64_t)WEAVE_HEADER_SIZE + WEAVE_RESPONSE_FIXED_SIZE +
                     (uint64_t)w * h * WEAVE_DAEMON_CHANNELS + WEAVE_SEED_EXT_SIZE;
    uint32_t s = largest_fitting_square();
    weave_error_set(err, request_id, WEAVE_ERR_INVALID_DIMENSIONS,
                    "reply for %ux%u RGB would be %llu bytes, over the %u-byte limit; "
                    "the largest square that fits is %ux%u",
                    (unsigned)w, (unsigned)h, (unsigned long long)would,
                    (unsigned)WEAVE_MAX_MESSAGE_SIZE, (unsigned)s, (unsigned)s);
    return -1;
}

static int decode_generate(const uint8_t *p, uint32_t plen,
                           struct weave_generate_request *out,
                           struct weave_error *err)
{
    if (plen < WEAVE_GENERATE_FIXED_SIZE) {
        weave_error_set(err, plen >= 8 ? weave_get_u64(p) : 0, WEAVE_ERR_MALFORMED,
                        "generate request payload is %u bytes, shorter than its %u-byte fixed part",
                        (unsigned)plen, WEAVE_GENERATE_FIXED_SIZE);
        return -1;
    }
    uint64_t id = weave_get_u64(p + GEN_REQUEST_ID);
    out->request_id = id;
    out->model_id = weave_get_u32(p + GEN_MODEL_ID);
    out->width = weave_get_u32(p + GEN_WIDTH);
    out->height = weave_get_u32(p + GEN_HEIGHT);
    out->steps = weave_get_u32(p + GEN_STEPS);
    out->cfg_scale = weave_get_f32(p + GEN_CFG);
    out->seed = weave_get_u64(p + GEN_SEED);

    if (out->model_id != 0) {
        weave_error_set(err, id, WEAVE_ERR_INVALID_MODEL,
                        "model_id %u is unknown (v1 has only model 0)",
                        (unsigned)out->model_id);
        return -1;
    }
    if (check_side("width", out->width, id, err) != 0 ||
        check_side("height", out->height, id, err) != 0)
        return -1;
    if (out->steps < STEPS_MIN || out->steps > STEPS_MAX) {
        weave_error_set(err, id, WEAVE_ERR_INVALID_STEPS,
                        "steps %u is outside %u..%u", (unsigned)out->steps,
                        STEPS_MIN, STEPS_MAX);
        return -1;
    }
    if (check_cfg(out->cfg_scale, id, err) != 0)
        return -1;

    const uint8_t *data = p + WEAVE_GENERATE_FIXED_SIZE;
    uint32_t size = plen - WEAVE_GENERATE_FIXED_SIZE;
    if (decode_prompt("clip_l", p + GEN_PROMPTS, data, size, id, &out->clip_l, err) != 0 ||
        decode_prompt("clip_g", p + GEN_PROMPTS + 8, data, size, id, &out->clip_g, err) != 0 ||
        decode_prompt("t5", p + GEN_PROMPTS + 16, data, size, id, &out->t5, err) != 0)
        return -1;
    return check_reply_fits(out->width, out->height, id, err);
}

static int decode_status(const uint8_t *p, uint32_t plen,
                         struct weave_status_request *out,
                         struct weave_error *err)
{
    if (plen < WEAVE_STATUS_REQ_SIZE) {
        weave_error_set(err, 0, WEAVE_ERR_MALFORMED,
                        "status request payload is %u bytes, shorter than its %u-byte request_id",
                        (unsigned)plen, WEAVE_STATUS_REQ_SIZE);
        return -1;
    }
    out->request_id = weave_get_u64(p); /* later bytes: newer versions' fields */
    return 0;
}

int weave_request_decode(const uint8_t *msg, size_t len,
                         struct weave_request *out, struct weave_error *err)
{
    struct weave_header hdr;
    const uint8_t *payload;

    memset(out, 0, sizeof *out);
    if (weave_frame_decode(msg, len, weave_request_type_served, "request", &hdr,
                           &payload, err) != 0)
        return -1;
    out->version = hdr.version;
    out->msg_type = hdr.msg_type;
    if (hdr.msg_type == WEAVE_MSG_GENERATE_REQUEST)
        return decode_generate(payload, hdr.payload_len, &out->u.generate, err);
    return decode_status(payload, hdr.payload_len, &out->u.status, err);
}
