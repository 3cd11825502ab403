/*
 * Response decoder: the client's side (SPEC sections 5, 6 and 7; the
 * version-2 types are in protocol_response_v2.c). Every failure is error 11
 * (malformed); the message says which rule broke.
 */
#include <string.h>

#include "layout.h"
#include "protocol_internal.h"
#include "weave/protocol.h"
#include "protocol/wire.h"

/* Types 2, 4 and 255 in every version; 6 and 0x10..0x12 in version 2. */
static int is_response_type(uint16_t version, uint16_t msg_type)
{
    switch (msg_type) {
    case WEAVE_MSG_GENERATE_RESPONSE:
    case WEAVE_MSG_STATUS_RESPONSE:
    case WEAVE_MSG_ERROR:
        return 1;
    case WEAVE_MSG_SHM_RESPONSE:
    case WEAVE_MSG_QUEUED:
    case WEAVE_MSG_PROGRESS:
    case WEAVE_MSG_HEARTBEAT:
        return version >= WEAVE_VERSION_2;
    default:
        return 0;
    }
}

int weave_response_start(const uint8_t *p, uint32_t plen, uint32_t want,
                         const char *what, uint64_t *id,
                         struct weave_error *err)
{
    *id = weave_payload_request_id(p, plen, plen);
    if (plen < want) {
        weave_error_set(err, *id, WEAVE_ERR_MALFORMED,
                        "%s payload is %u bytes, shorter than its %u-byte fixed part",
                        what, (unsigned)plen, (unsigned)want);
        return -1;
    }
    return 0;
}

int weave_get_image_fields(const uint8_t *p, uint64_t id, const char *what,
                           uint32_t *status, uint32_t *generation_ms,
                           uint32_t *width, uint32_t *height,
                           uint32_t *channels, struct weave_error *err)
{
    *status = weave_get_u32(p + IMG_STATUS);
    *generation_ms = weave_get_u32(p + IMG_GENERATION_MS);
    *width = weave_get_u32(p + IMG_WIDTH);
    *height = weave_get_u32(p + IMG_HEIGHT);
    *channels = weave_get_u32(p + IMG_CHANNELS);
    if (*status != WEAVE_STATUS_OK) {
        weave_error_set(err, id, WEAVE_ERR_MALFORMED, "%s status is %u, not 200",
                        what, (unsigned)*status);
        return -1;
    }
    if (*width == 0 || *height == 0) {
        weave_error_set(err, id, WEAVE_ERR_MALFORMED,
                        "%s image is %ux%u; both sides must be at least 1",
                        what, (unsigned)*width, (unsigned)*height);
        return -1;
    }
    if (*channels != 3 && *channels != 4) {
        weave_error_set(err, id, WEAVE_ERR_MALFORMED,
                        "%s channels is %u; only 3 (RGB) and 4 (RGBA) exist",
                        what, (unsigned)*channels);
        return -1;
    }
    return 0;
}

/*
 * width*height*channels as the 32-bit image_data_len must carry it.
 * Returns 0 and sets *out, or -1 when the product does not fit in 32 bits.
 */
static int image_len(uint32_t w, uint32_t h, uint32_t c, uint32_t *out)
{
    uint64_t pixels = (uint64_t)w * h; /* < 2^64 */
    if (pixels > UINT32_MAX)
        return -1;
    uint64_t bytes = pixels * c; /* < 2^32 * 2^32: cannot wrap */
    if (bytes > UINT32_MAX)
        return -1;
    *out = (uint32_t)bytes;
    return 0;
}

static int decode_generate(const uint8_t *p, uint32_t plen,
                           struct weave_generate_response *out,
                           struct weave_error *err)
{
    uint64_t id;
    if (weave_response_start(p, plen, WEAVE_RESPONSE_FIXED_SIZE,
                             "generate response", &id, err) != 0)
        return -1;
    out->request_id = id;
    uint32_t n = weave_get_u32(p + GRESP_IMAGE_LEN);
    if (weave_get_image_fields(p, id, "generate response", &out->status,
                               &out->generation_time_ms, &out->width,
                               &out->height, &out->channels, err) != 0)
        return -1;
    uint32_t expect;
    if (image_len(out->width, out->height, out->channels, &expect) != 0) {
        weave_error_set(err, id, WEAVE_ERR_MALFORMED,
                        "image %ux%ux%u is over 4294967295 bytes; image_data_len %u cannot match it",
                        (unsigned)out->width, (unsigned)out->height,
                        (unsigned)out->channels, (unsigned)n);
        return -1;
    }
    if (expect != n) {
        weave_error_set(err, id, WEAVE_ERR_MALFORMED,
                        "image_data_len %u is not %ux%ux%u = %u", (unsigned)n,
                        (unsigned)out->width, (unsigned)out->height,
                        (unsigned)out->channels, (unsigned)expect);
        return -1;
    }
    uint32_t rest = plen - WEAVE_RESPONSE_FIXED_SIZE;
    if (rest < n) {
        weave_error_set(err, id, WEAVE_ERR_MALFORMED,
                        "generate response has %u bytes after its fixed part, fewer than the %u image bytes",
                        (unsigned)rest, (unsigned)n);
        return -1;
    }
    out->image.data = p + WEAVE_RESPONSE_FIXED_SIZE;
    out->image.len = n;
    /* Seed extension: reported when all 8 bytes are there (SPEC section 5). */
    if (rest - n >= WEAVE_SEED_EXT_SIZE) {
        out->has_seed = 1;
        out->seed = weave_get_u64(p + WEAVE_RESPONSE_FIXED_SIZE + n);
    }
    return 0;
}

/*
 * A u16-length string at p[at..]: `at + 2 <= plen` is the caller's promise.
 * Returns the offset after the string, or 0 when it runs past plen.
 */
static uint32_t take_string(const uint8_t *p, uint32_t plen, uint32_t at,
                            struct weave_bytes *out)
{
    uint32_t len = weave_get_u16(p + at);
    uint32_t start = at + 2;
    if (len > plen - start)
        return 0;
    out->data = p + start;
    out->len = len;
    return start + len;
}

static int decode_status(const uint8_t *p, uint32_t plen, uint16_t version,
                         struct weave_status_response *out,
                         struct weave_error *err)
{
    uint64_t id;
    if (weave_response_start(p, plen, WEAVE_STATUS_RESP_FIXED_SIZE,
                             "status response", &id, err) != 0)
        return -1;
    out->request_id = id;
    out->status = weave_get_u32(p + SRESP_STATUS);
    out->version_min = weave_get_u16(p + SRESP_VERSION_MIN);
    out->version_max = weave_get_u16(p + SRESP_VERSION_MAX);
    out->uptime_ms = weave_get_u64(p + SRESP_UPTIME_MS);
    out->requests_served = weave_get_u64(p + SRESP_REQUESTS_SERVED);
    out->connections_open = weave_get_u32(p + SRESP_CONNECTIONS_OPEN);
    out->max_connections = weave_get_u32(p + SRESP_MAX_CONNECTIONS);
    out->queue_depth = weave_get_u32(p + SRESP_QUEUE_DEPTH);

    if (out->status != WEAVE_STATUS_OK) {
        weave_error_set(err, id, WEAVE_ERR_MALFORMED,
                        "status response status is %u, not 200",
                        (unsigned)out->status);
        return -1;
    }
    /* The minimum size guarantees backend_len; the string then has to leave
     * room for daemon_version_len (2 bytes) after it. */
    uint32_t after = take_string(p, plen - 2, SRESP_BACKEND, &out->backend);
    if (after == 0) {
        weave_error_set(err, id, WEAVE_ERR_MALFORMED,
                        "status response backend_len %u runs past the %u-byte payload",
                        (unsigned)weave_get_u16(p + SRESP_BACKEND), (unsigned)plen);
        return -1;
    }
    uint32_t end = take_string(p, plen, after, &out->daemon_version);
    if (end == 0) {
        weave_error_set(err, id, WEAVE_ERR_MALFORMED,
                        "status response daemon_version_len %u runs past the %u-byte payload",
                        (unsigned)weave_get_u16(p + after), (unsigned)plen);
        return -1;
    }
    if (version >= WEAVE_VERSION_2)
        return weave_decode_status_v2(p, plen, end, out, err);
    return 0;
}

static int decode_error(const uint8_t *p, uint32_t plen,
                        struct weave_error_response *out,
                        struct weave_error *err)
{
    uint64_t id;
    if (weave_response_start(p, plen, WEAVE_ERROR_FIXED_SIZE, "error", &id,
                             err) != 0)
        return -1;
    out->request_id = id;
    out->status = weave_get_u32(p + ERR_STATUS); /* any status and code are accepted */
    out->code = weave_get_u32(p + ERR_CODE);
    if (take_string(p, plen, ERR_MESSAGE, &out->message) == 0) {
        weave_error_set(err, id, WEAVE_ERR_MALFORMED,
                        "error msg_len %u runs past the %u-byte payload",
                        (unsigned)weave_get_u16(p + ERR_MESSAGE), (unsigned)plen);
        return -1;
    }
    return 0;
}

int weave_response_decode(const uint8_t *msg, size_t len,
                          struct weave_response *out, struct weave_error *err)
{
    return weave_response_decode_versions(msg, len, WEAVE_VERSION_MIN,
                                          WEAVE_VERSION_MAX, out, err);
}

int weave_response_decode_versions(const uint8_t *msg, size_t len,
                                   uint16_t vmin, uint16_t vmax,
                                   struct weave_response *out,
                                   struct weave_error *err)
{
    struct weave_header hdr;
    const uint8_t *payload;

    memset(out, 0, sizeof *out);
    if (weave_frame_decode(msg, len, vmin, vmax, is_response_type, "response",
                           &hdr, &payload, err) != 0)
        return -1;
    out->version = hdr.version;
    out->msg_type = hdr.msg_type;
    switch (hdr.msg_type) {
    case WEAVE_MSG_GENERATE_RESPONSE:
        return decode_generate(payload, hdr.payload_len, &out->u.generate, err);
    case WEAVE_MSG_STATUS_RESPONSE:
        return decode_status(payload, hdr.payload_len, hdr.version,
                             &out->u.status, err);
    case WEAVE_MSG_ERROR:
        return decode_error(payload, hdr.payload_len, &out->u.error, err);
    default:
        return weave_decode_v2_response(hdr.msg_type, payload, hdr.payload_len,
                                        out, err);
    }
}
