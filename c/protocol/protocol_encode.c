/*
 * Encoders. Each computes the full message size first (in 64 bits, so
 * adding field lengths cannot wrap), refuses anything over the 10 MiB limit
 * or the caller's capacity, and only then writes. A 0 return leaves buf
 * untouched.
 *
 * Encoders check the format (lengths fit their fields, the image length
 * matches its dimensions) but not the value rules a decoder enforces
 * (e.g. width 64..2048): tests build invalid requests with them.
 */
#include <string.h>

#include "layout.h"
#include "protocol_internal.h"
#include "weave/protocol.h"
#include "protocol/wire.h"

/* A byte range that claims bytes but has no pointer cannot be copied. */
static int bytes_ok(const struct weave_bytes *b)
{
    return b->len == 0 || b->data != NULL;
}

static void put_bytes(uint8_t *dst, const struct weave_bytes *b)
{
    if (b->len > 0)
        memcpy(dst, b->data, b->len);
}

uint8_t *weave_put_generate(uint8_t *buf, size_t cap, uint16_t version,
                            uint16_t msg_type, uint32_t shift,
                            const struct weave_generate_request *req,
                            size_t *total)
{
    if (!bytes_ok(&req->clip_l) || !bytes_ok(&req->clip_g) || !bytes_ok(&req->t5))
        return NULL;
    uint64_t l1 = req->clip_l.len, l2 = req->clip_g.len, l3 = req->t5.len;
    uint64_t plen = WEAVE_GENERATE_FIXED_SIZE + shift + l1 + l2 + l3;
    uint8_t *start = weave_put_start(buf, cap, version, msg_type, plen,
                                     req->request_id, total);
    if (start == NULL)
        return NULL;

    /* plen <= 10 MiB, so every offset below fits in 32 bits. */
    uint8_t *p = start + shift;
    weave_put_u32(p + GEN_MODEL_ID, req->model_id);
    weave_put_u32(p + GEN_WIDTH, req->width);
    weave_put_u32(p + GEN_HEIGHT, req->height);
    weave_put_u32(p + GEN_STEPS, req->steps);
    weave_put_f32(p + GEN_CFG, req->cfg_scale);
    weave_put_u64(p + GEN_SEED, req->seed);
    /* The three prompts back to back, as SPEC section 4 says a sender does:
     * (offset, len) pairs into prompt_data. */
    uint8_t *pair = p + GEN_PROMPTS;
    weave_put_u32(pair, 0);
    weave_put_u32(pair + 4, (uint32_t)l1);
    pair += GEN_PROMPT_PAIR;
    weave_put_u32(pair, (uint32_t)l1);
    weave_put_u32(pair + 4, (uint32_t)l2);
    pair += GEN_PROMPT_PAIR;
    weave_put_u32(pair, (uint32_t)(l1 + l2));
    weave_put_u32(pair + 4, (uint32_t)l3);
    uint8_t *data = p + WEAVE_GENERATE_FIXED_SIZE;
    put_bytes(data, &req->clip_l);
    put_bytes(data + l1, &req->clip_g);
    put_bytes(data + l1 + l2, &req->t5);
    return start;
}

size_t weave_encode_generate_request(uint8_t *buf, size_t cap, uint16_t version,
                                     const struct weave_generate_request *req)
{
    size_t total;
    if (weave_put_generate(buf, cap, version, WEAVE_MSG_GENERATE_REQUEST, 0,
                           req, &total) == NULL)
        return 0;
    return total;
}

size_t weave_encode_status_request(uint8_t *buf, size_t cap, uint16_t version,
                                   const struct weave_status_request *req)
{
    size_t total;
    if (weave_put_start(buf, cap, version, WEAVE_MSG_STATUS_REQUEST,
                        WEAVE_STATUS_REQ_SIZE, req->request_id, &total) == NULL)
        return 0;
    return total;
}

void weave_put_image_fields(uint8_t *p, uint32_t status, uint32_t generation_ms,
                            uint32_t width, uint32_t height, uint32_t channels)
{
    weave_put_u32(p + IMG_STATUS, status);
    weave_put_u32(p + IMG_GENERATION_MS, generation_ms);
    weave_put_u32(p + IMG_WIDTH, width);
    weave_put_u32(p + IMG_HEIGHT, height);
    weave_put_u32(p + IMG_CHANNELS, channels);
}

size_t weave_encode_generate_response(uint8_t *buf, size_t cap,
                                      uint16_t version,
                                      const struct weave_generate_response *resp)
{
    /* image_data_len must be width*height*channels (SPEC section 5); a
     * mismatch would be a reply no client accepts. */
    uint64_t expect = (uint64_t)resp->width * resp->height;
    if (expect > UINT32_MAX || expect * resp->channels != resp->image.len)
        return 0;
    uint64_t plen = (uint64_t)WEAVE_RESPONSE_FIXED_SIZE + resp->image.len +
                    (resp->has_seed ? WEAVE_SEED_EXT_SIZE : 0);
    size_t total;
    uint8_t *p = weave_put_start(buf, cap, version, WEAVE_MSG_GENERATE_RESPONSE,
                                 plen, resp->request_id, &total);
    if (p == NULL)
        return 0;
    weave_put_image_fields(p, resp->status, resp->generation_time_ms,
                           resp->width, resp->height, resp->channels);
    weave_put_u32(p + GRESP_IMAGE_LEN, resp->image.len);
    /* NULL data: the caller renders straight into buf + 48 afterwards. */
    if (resp->image.data != NULL)
        put_bytes(p + GRESP_IMAGE, &resp->image);
    if (resp->has_seed)
        weave_put_u64(p + GRESP_IMAGE + resp->image.len, resp->seed);
    return total;
}

/* A u16-length string; returns the offset after it. */
static size_t put_string(uint8_t *p, const struct weave_bytes *s)
{
    weave_put_u16(p, (uint16_t)s->len);
    put_bytes(p + 2, s);
    return 2 + (size_t)s->len;
}

size_t weave_encode_status_response(uint8_t *buf, size_t cap, uint16_t version,
                                    const struct weave_status_response *resp)
{
    if (resp->backend.len > WEAVE_MAX_STATUS_STRING ||
        resp->daemon_version.len > WEAVE_MAX_STATUS_STRING ||
        !bytes_ok(&resp->backend) || !bytes_ok(&resp->daemon_version))
        return 0;
    uint64_t plen = (uint64_t)WEAVE_STATUS_RESP_FIXED_SIZE + resp->backend.len +
                    resp->daemon_version.len;
    uint64_t v2 = 0; /* SPEC 11.6: the fields a version-2 reply appends */
    if (version >= WEAVE_VERSION_2 && (v2 = weave_status_v2_size(resp)) == 0)
        return 0;
    size_t total;
    uint8_t *p = weave_put_start(buf, cap, version, WEAVE_MSG_STATUS_RESPONSE,
                                 plen + v2, resp->request_id, &total);
    if (p == NULL)
        return 0;
    weave_put_u32(p + SRESP_STATUS, resp->status);
    weave_put_u16(p + SRESP_VERSION_MIN, resp->version_min);
    weave_put_u16(p + SRESP_VERSION_MAX, resp->version_max);
    weave_put_u64(p + SRESP_UPTIME_MS, resp->uptime_ms);
    weave_put_u64(p + SRESP_REQUESTS_SERVED, resp->requests_served);
    weave_put_u32(p + SRESP_CONNECTIONS_OPEN, resp->connections_open);
    weave_put_u32(p + SRESP_MAX_CONNECTIONS, resp->max_connections);
    weave_put_u32(p + SRESP_QUEUE_DEPTH, resp->queue_depth);
    size_t at = SRESP_BACKEND;
    at += put_string(p + at, &resp->backend);
    at += put_string(p + at, &resp->daemon_version);
    if (v2 != 0)
        weave_put_status_v2(p + at, resp);
    return total;
}

size_t weave_encode_error_response(uint8_t *buf, size_t cap, uint16_t version,
                                   const struct weave_error_response *resp)
{
    if (resp->message.len > UINT16_MAX || !bytes_ok(&resp->message))
        return 0;
    uint64_t plen = (uint64_t)WEAVE_ERROR_FIXED_SIZE + resp->message.len;
    size_t total;
    uint8_t *p = weave_put_start(buf, cap, version, WEAVE_MSG_ERROR, plen,
                                 resp->request_id, &total);
    if (p == NULL)
        return 0;
    weave_put_u32(p + ERR_STATUS, resp->status);
    weave_put_u32(p + ERR_CODE, resp->code);
    put_string(p + ERR_MESSAGE, &resp->message);
    return total;
}

size_t weave_encode_error(uint8_t *buf, size_t cap, uint16_t version,
                          const struct weave_error *err)
{
    /* memchr, not strlen: never read past the array if NUL is missing. */
    const char *nul = memchr(err->message, '\0', sizeof err->message);
    size_t mlen = nul != NULL ? (size_t)(nul - err->message) : sizeof err->message;
    struct weave_error_response resp = {
        .request_id = err->request_id,
        .status = err->status,
        .code = err->code,
        .message = {(const uint8_t *)err->message, (uint32_t)mlen},
    };
    return weave_encode_error_response(buf, cap, version, &resp);
}
