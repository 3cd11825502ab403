/*
 * Request decoder: the daemon's side (SPEC sections 4, 7 and 11.2). Checks
 * run in exactly the SPEC order, because the first failure decides the
 * reply.
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
    return weave_request_type_served_in(WEAVE_VERSION_MIN, msg_type);
}

/* Types 1 and 3 in every version, 5 in version 2 (SPEC 11.1). */
int weave_request_type_served_in(uint16_t version, uint16_t msg_type)
{
    return msg_type == WEAVE_MSG_GENERATE_REQUEST ||
           msg_type == WEAVE_MSG_STATUS_REQUEST ||
           (version >= WEAVE_VERSION_2 && msg_type == WEAVE_MSG_GENERATE_OPTIONS);
}

uint64_t weave_request_echo_id(const struct weave_header *hdr,
                               const uint8_t *payload, size_t got)
{
    if (!weave_request_type_served_in(hdr->version, hdr->msg_type))
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

/*
 * A generate request's payload: request_id at 0, section 4's fields at
 * their GEN_* offsets plus `shift` (0 for 0x0001; OPT_SHIFT for 0x0005,
 * whose flags and reserved come first), prompt_data from `fixed` (60 or 68).
 * The reply-size rule applies when `reply_rule` is set.
 */
static int decode_generate(const uint8_t *p, uint32_t plen, uint32_t shift,
                           uint32_t fixed, int reply_rule, const char *what,
                           struct weave_generate_request *out,
                           struct weave_error *err)
{
    if (plen < fixed) {
        weave_error_set(err, plen >= 8 ? weave_get_u64(p) : 0, WEAVE_ERR_MALFORMED,
                        "%s payload is %u bytes, shorter than its %u-byte fixed part",
                        what, (unsigned)plen, (unsigned)fixed);
        return -1;
    }
    uint64_t id = weave_get_u64(p + GEN_REQUEST_ID);
    const uint8_t *f = p + shift;
    out->request_id = id;
    out->model_id = weave_get_u32(f + GEN_MODEL_ID);
    out->width = weave_get_u32(f + GEN_WIDTH);
    out->height = weave_get_u32(f + GEN_HEIGHT);
    out->steps = weave_get_u32(f + GEN_STEPS);
    out->cfg_scale = weave_get_f32(f + GEN_CFG);
    out->seed = weave_get_u64(f + GEN_SEED);

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

    const uint8_t *data = p + fixed;
    uint32_t size = plen - fixed;
    const uint8_t *pairs = f + GEN_PROMPTS;
    if (decode_prompt("clip_l", pairs, data, size, id, &out->clip_l, err) != 0 ||
        decode_prompt("clip_g", pairs + GEN_PROMPT_PAIR, data, size, id, &out->clip_g, err) != 0 ||
        decode_prompt("t5", pairs + 2 * GEN_PROMPT_PAIR, data, size, id, &out->t5, err) != 0)
        return -1;
    /* With SHM the reply is 11.4's fixed 44 bytes whatever the image size. */
    return reply_rule ? check_reply_fits(out->width, out->height, id, err) : 0;
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
    return weave_request_decode_versions(msg, len, WEAVE_VERSION_MIN,
                                         WEAVE_VERSION_MAX, out, err);
}

int weave_request_decode_versions(const uint8_t *msg, size_t len,
                                  uint16_t vmin, uint16_t vmax,
                                  struct weave_request *out,
                                  struct weave_error *err)
{
    struct weave_header hdr;
    const uint8_t *payload;

    memset(out, 0, sizeof *out);
    if (weave_frame_decode(msg, len, vmin, vmax, weave_request_type_served_in,
                           "request", &hdr, &payload, err) != 0)
        return -1;
    out->version = hdr.version;
    out->msg_type = hdr.msg_type;
    switch (hdr.msg_type) {
    case WEAVE_MSG_GENERATE_REQUEST:
        return decode_generate(payload, hdr.payload_len, 0,
                               WEAVE_GENERATE_FIXED_SIZE, 1, "generate request",
                               &out->u.generate, err);
    case WEAVE_MSG_GENERATE_OPTIONS:
        /* flags are inside the 68-byte fixed part: a shorter payload fails
         * decode_generate's length check (error 11) before they matter. */
        if (hdr.payload_len >= WEAVE_GENERATE_OPTIONS_FIXED_SIZE)
            out->flags = weave_get_u32(payload + OPT_FLAGS);
        return decode_generate(payload, hdr.payload_len, OPT_SHIFT,
                               WEAVE_GENERATE_OPTIONS_FIXED_SIZE,
                               (out->flags & WEAVE_FLAG_SHM) == 0,
                               "generate request with options",
                               &out->u.generate, err);
    default:
        return decode_status(payload, hdr.payload_len, &out->u.status, err);
    }
}
