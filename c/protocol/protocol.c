/*
 * Weave protocol v1: error codes, header checks and the framing shared by
 * the request and response decoders (proto_spec/SPEC.md sections 2 and 6).
 */
#include "weave/protocol.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "layout.h"
#include "protocol_internal.h"
#include "protocol/utf8.h"
#include "protocol/wire.h"

const char *weave_error_code_name(uint32_t code)
{
    switch (code) {
    case WEAVE_ERR_NONE: return "none";
    case WEAVE_ERR_INVALID_MAGIC: return "invalid magic";
    case WEAVE_ERR_UNSUPPORTED_VERSION: return "unsupported version";
    case WEAVE_ERR_INVALID_MODEL: return "invalid model";
    case WEAVE_ERR_INVALID_PROMPT: return "invalid prompt";
    case WEAVE_ERR_INVALID_DIMENSIONS: return "invalid dimensions";
    case WEAVE_ERR_INVALID_STEPS: return "invalid steps";
    case WEAVE_ERR_INVALID_CFG: return "invalid cfg";
    case WEAVE_ERR_OUT_OF_MEMORY: return "out of memory";
    case WEAVE_ERR_GPU: return "GPU error";
    case WEAVE_ERR_TIMEOUT: return "timeout";
    case WEAVE_ERR_MALFORMED: return "malformed message";
    case WEAVE_ERR_UNKNOWN_TYPE: return "unknown message type";
    case WEAVE_ERR_TOO_LARGE: return "message too large";
    case WEAVE_ERR_BUSY: return "server busy";
    case WEAVE_ERR_INTERNAL: return "internal";
    default: return "unknown error";
    }
}

uint32_t weave_error_code_status(uint32_t code)
{
    switch (code) {
    case WEAVE_ERR_INVALID_MAGIC:
    case WEAVE_ERR_UNSUPPORTED_VERSION:
    case WEAVE_ERR_INVALID_MODEL:
    case WEAVE_ERR_INVALID_PROMPT:
    case WEAVE_ERR_INVALID_DIMENSIONS:
    case WEAVE_ERR_INVALID_STEPS:
    case WEAVE_ERR_INVALID_CFG:
    case WEAVE_ERR_MALFORMED:
    case WEAVE_ERR_UNKNOWN_TYPE:
    case WEAVE_ERR_TOO_LARGE:
        return WEAVE_STATUS_BAD_REQUEST;
    default:
        /* 8, 9, 10, 14, 99, and codes we do not know (incl. 0, never sent):
         * if we cannot blame the client, it is the server's failure. */
        return WEAVE_STATUS_SERVER_ERROR;
    }
}

void weave_error_set(struct weave_error *err, uint64_t request_id,
                     uint32_t code, const char *fmt, ...)
{
    err->request_id = request_id;
    err->code = code;
    err->status = weave_error_code_status(code);

    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);

    if (n <= 0) {
        /* Formatting failed or gave nothing: a reply still needs a text. */
        snprintf(err->message, sizeof err->message, "%s",
                 weave_error_code_name(code));
        return;
    }
    if ((size_t)n >= sizeof err->message) {
        /* vsnprintf cut at a byte, maybe inside a character; the message
         * goes on the wire as UTF-8, so cut back to a character boundary. */
        size_t keep = weave_utf8_trim_partial((const uint8_t *)err->message,
                                              sizeof err->message - 1);
        err->message[keep] = '\0';
    }
}

int weave_header_decode(const uint8_t *hdr, struct weave_header *out,
                        struct weave_error *err)
{
    return weave_header_decode_versions(hdr, WEAVE_VERSION_MIN,
                                        WEAVE_VERSION_MAX, out, err);
}

int weave_header_decode_versions(const uint8_t *hdr, uint16_t vmin,
                                 uint16_t vmax, struct weave_header *out,
                                 struct weave_error *err)
{
    if (vmin < 1)
        vmin = 1;
    if (vmax > WEAVE_CODEC_VERSION_MAX)
        vmax = WEAVE_CODEC_VERSION_MAX;
    out->magic = weave_get_u32(hdr + HDR_MAGIC);
    out->version = weave_get_u16(hdr + HDR_VERSION);
    out->msg_type = weave_get_u16(hdr + HDR_MSG_TYPE);
    out->payload_len = weave_get_u32(hdr + HDR_PAYLOAD_LEN);
    out->reserved = weave_get_u32(hdr + HDR_RESERVED);

    /* SPEC section 2 order: magic, version, size. msg_type is judged by the
     * decoder that knows which types it serves. */
    if (out->magic != WEAVE_MAGIC) {
        weave_error_set(err, 0, WEAVE_ERR_INVALID_MAGIC,
                        "magic 0x%08X is not 0x%08X (\"WEVE\")",
                        (unsigned)out->magic, (unsigned)WEAVE_MAGIC);
        return -1;
    }
    if (out->version < vmin || out->version > vmax) {
        weave_error_set(err, 0, WEAVE_ERR_UNSUPPORTED_VERSION,
                        "protocol version %u is not supported (supported: %u..%u)",
                        (unsigned)out->version, (unsigned)vmin, (unsigned)vmax);
        return -1;
    }
    if (out->payload_len > WEAVE_MAX_PAYLOAD_SIZE) {
        weave_error_set(err, 0, WEAVE_ERR_TOO_LARGE,
                        "payload_len %u is over the %u-byte limit (%u-byte messages)",
                        (unsigned)out->payload_len,
                        (unsigned)WEAVE_MAX_PAYLOAD_SIZE,
                        (unsigned)WEAVE_MAX_MESSAGE_SIZE);
        return -1;
    }
    return 0;
}

uint64_t weave_payload_request_id(const uint8_t *payload, size_t got,
                                  uint32_t payload_len)
{
    if (payload_len >= 8 && got >= 8)
        return weave_get_u64(payload + PAY_REQUEST_ID);
    return 0;
}

void weave_unknown_type_error(struct weave_error *err, uint64_t request_id,
                              uint16_t msg_type, const char *role)
{
    weave_error_set(err, request_id, WEAVE_ERR_UNKNOWN_TYPE,
                    "message type 0x%04X is not a %s this side decodes",
                    (unsigned)msg_type, role);
}

int weave_frame_decode(const uint8_t *msg, size_t len, uint16_t vmin,
                       uint16_t vmax,
                       int (*accepts)(uint16_t version, uint16_t msg_type),
                       const char *role, struct weave_header *hdr,
                       const uint8_t **payload, struct weave_error *err)
{
    memset(hdr, 0, sizeof *hdr);
    if (len < WEAVE_HEADER_SIZE) {
        weave_error_set(err, 0, WEAVE_ERR_MALFORMED,
                        "message is %zu bytes, shorter than the %u-byte header",
                        len, (unsigned)WEAVE_HEADER_SIZE);
        return -1;
    }
    if (weave_header_decode_versions(msg, vmin, vmax, hdr, err) != 0)
        return -1;

    uint64_t request_id = weave_payload_request_id(
        msg + WEAVE_HEADER_SIZE, len - WEAVE_HEADER_SIZE, hdr->payload_len);
    if (!accepts(hdr->version, hdr->msg_type)) {
        weave_unknown_type_error(err, request_id, hdr->msg_type, role);
        return -1;
    }
    /* Checked as "available < declared" so nothing is added that could wrap. */
    size_t available = len - WEAVE_HEADER_SIZE;
    if (available < hdr->payload_len) {
        weave_error_set(err, request_id, WEAVE_ERR_MALFORMED,
                        "message ends after %zu of its %u payload bytes",
                        available, (unsigned)hdr->payload_len);
        return -1;
    }
    *payload = msg + WEAVE_HEADER_SIZE;
    return 0;
}

size_t weave_generate_response_size(uint32_t width, uint32_t height,
                                    uint32_t channels)
{
    /* A zero side or zero channels is not an image a decoder accepts. */
    if (width == 0 || height == 0 || channels == 0)
        return 0;
    uint64_t pixels = (uint64_t)width * height; /* < 2^64: no overflow */
    if (pixels > WEAVE_MAX_MESSAGE_SIZE)
        return 0; /* already too big; also keeps the next product small */
    uint64_t image = pixels * channels;        /* < 2^24 * 2^32 = 2^56 */
    uint64_t total = (uint64_t)WEAVE_HEADER_SIZE + WEAVE_RESPONSE_FIXED_SIZE +
                     image + WEAVE_SEED_EXT_SIZE;
    if (total > WEAVE_MAX_MESSAGE_SIZE)
        return 0;
    return (size_t)total;
}

void weave_put_header(uint8_t *buf, uint16_t version, uint16_t msg_type,
                      uint32_t payload_len)
{
    weave_put_u32(buf + HDR_MAGIC, WEAVE_MAGIC);
    weave_put_u16(buf + HDR_VERSION, version);
    weave_put_u16(buf + HDR_MSG_TYPE, msg_type);
    weave_put_u32(buf + HDR_PAYLOAD_LEN, payload_len);
    weave_put_u32(buf + HDR_RESERVED, 0);
}

size_t weave_message_size(uint64_t payload_len, size_t cap)
{
    if (payload_len > WEAVE_MAX_PAYLOAD_SIZE)
        return 0;
    uint64_t total = WEAVE_HEADER_SIZE + payload_len; /* <= 10 MiB */
    if (total > cap)
        return 0;
    return (size_t)total;
}

uint8_t *weave_put_start(uint8_t *buf, size_t cap, uint16_t version,
                         uint16_t msg_type, uint64_t payload_len,
                         uint64_t request_id, size_t *total)
{
    *total = weave_message_size(payload_len, cap);
    if (*total == 0)
        return NULL;
    /* payload_len <= 10 MiB here: it fits the u32 field. */
    weave_put_header(buf, version, msg_type, (uint32_t)payload_len);
    uint8_t *p = buf + WEAVE_HEADER_SIZE;
    weave_put_u64(p + PAY_REQUEST_ID, request_id);
    return p;
}
