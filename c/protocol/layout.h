/*
 * The v1 wire layout, written once for the codec: byte offsets of every
 * fixed field, in the header and in each payload (SPEC sections 2-7). The
 * encoders and decoders use these names, never literals. Internal to the
 * codec (c/protocol); the sizes callers need are in weave/protocol.h.
 */
#ifndef WEAVE_PROTOCOL_LAYOUT_H
#define WEAVE_PROTOCOL_LAYOUT_H

#include "weave/protocol.h"

/* Header (SPEC section 2). */
enum {
    HDR_MAGIC = 0,
    HDR_VERSION = 4,
    HDR_MSG_TYPE = 6,
    HDR_PAYLOAD_LEN = 8,
    HDR_RESERVED = 12,
};

/* Every payload starts with its request_id (u64). */
#define PAY_REQUEST_ID 0

/* Generate request payload (SPEC section 4). */
enum {
    GEN_REQUEST_ID = PAY_REQUEST_ID,
    GEN_MODEL_ID = 8,
    GEN_WIDTH = 12,
    GEN_HEIGHT = 16,
    GEN_STEPS = 20,
    GEN_CFG = 24,
    GEN_SEED = 28,
    GEN_PROMPTS = 36, /* three (offset, len) pairs of u32: clip_l, clip_g, t5 */
    GEN_PROMPT_PAIR = 8,
};

/* Generate response payload (SPEC section 5). */
enum {
    GRESP_REQUEST_ID = PAY_REQUEST_ID,
    GRESP_STATUS = 8,
    GRESP_GENERATION_MS = 12,
    GRESP_WIDTH = 16,
    GRESP_HEIGHT = 20,
    GRESP_CHANNELS = 24,
    GRESP_IMAGE_LEN = 28,
    GRESP_IMAGE = 32, /* then image_len pixel bytes, then the seed (u64) */
};

/* Status response payload (SPEC section 6). */
enum {
    SRESP_REQUEST_ID = PAY_REQUEST_ID,
    SRESP_STATUS = 8,
    SRESP_VERSION_MIN = 12,
    SRESP_VERSION_MAX = 14,
    SRESP_UPTIME_MS = 16,
    SRESP_REQUESTS_SERVED = 24,
    SRESP_CONNECTIONS_OPEN = 32,
    SRESP_MAX_CONNECTIONS = 36,
    SRESP_QUEUE_DEPTH = 40,
    SRESP_BACKEND = 44, /* u16 length + bytes, then daemon_version likewise */
};

/* Error payload (SPEC section 7). */
enum {
    ERR_REQUEST_ID = PAY_REQUEST_ID,
    ERR_STATUS = 8,
    ERR_CODE = 12,
    ERR_MESSAGE = 16, /* u16 length + bytes */
};

_Static_assert(GEN_PROMPTS + 3 * GEN_PROMPT_PAIR == WEAVE_GENERATE_FIXED_SIZE,
               "generate request layout");
_Static_assert(GRESP_IMAGE == WEAVE_RESPONSE_FIXED_SIZE,
               "generate response layout");
_Static_assert(SRESP_BACKEND + 2 + 2 == WEAVE_STATUS_RESP_FIXED_SIZE,
               "status response layout");
_Static_assert(ERR_MESSAGE + 2 == WEAVE_ERROR_FIXED_SIZE, "error layout");
_Static_assert(HDR_RESERVED + 4 == WEAVE_HEADER_SIZE, "header layout");

#endif /* WEAVE_PROTOCOL_LAYOUT_H */
