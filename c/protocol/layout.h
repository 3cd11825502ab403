/*
 * The wire layout, written once for the codec: byte offsets of every fixed
 * field, in the header and in each payload (SPEC sections 2-7, and 11 for
 * version 2). The
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

/* The image fields after request_id that the generate response (section 5)
 * and the shared-memory response (11.4) share, at the same offsets. */
enum {
    IMG_STATUS = 8,
    IMG_GENERATION_MS = 12,
    IMG_WIDTH = 16,
    IMG_HEIGHT = 20,
    IMG_CHANNELS = 24,
    IMG_END = 28, /* where the two payloads part */
};

/* Generate response payload (SPEC section 5). */
enum {
    GRESP_REQUEST_ID = PAY_REQUEST_ID,
    GRESP_STATUS = IMG_STATUS,
    GRESP_GENERATION_MS = IMG_GENERATION_MS,
    GRESP_WIDTH = IMG_WIDTH,
    GRESP_HEIGHT = IMG_HEIGHT,
    GRESP_CHANNELS = IMG_CHANNELS,
    GRESP_IMAGE_LEN = IMG_END,
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

/* Generate request with options payload (SPEC 11.2, version 2): flags and
 * reserved after request_id, then section 4's fields, each OPT_SHIFT bytes
 * later than its GEN_* offset. */
enum {
    OPT_REQUEST_ID = PAY_REQUEST_ID,
    OPT_FLAGS = 8,
    OPT_RESERVED = 12,
    OPT_MODEL_ID = 16,
    OPT_SHIFT = OPT_MODEL_ID - GEN_MODEL_ID,
};

/* Shared-memory generate response payload (SPEC 11.4). */
enum {
    SHM_REQUEST_ID = PAY_REQUEST_ID,
    SHM_STATUS = IMG_STATUS,
    SHM_GENERATION_MS = IMG_GENERATION_MS,
    SHM_WIDTH = IMG_WIDTH,
    SHM_HEIGHT = IMG_HEIGHT,
    SHM_CHANNELS = IMG_CHANNELS,
    SHM_IMAGE_SIZE = IMG_END, /* u64 */
    SHM_SEED = 36,       /* u64 */
};

/* Queued, progress, heartbeat payloads (SPEC 11.3): request_id, then u32s. */
enum {
    QUEUED_POSITION = 8,
    QUEUED_DEPTH = 12,
    PROGRESS_STEP = 8,
    PROGRESS_STEPS = 12,
    PROGRESS_ELAPSED_MS = 16,
    HEARTBEAT_PHASE = 8,
    HEARTBEAT_ELAPSED_MS = 12,
};

/* Version-2 status fields (SPEC 11.6), from X, the end of daemon_version. */
enum {
    SV2_DAEMON_PID = 0,
    SV2_FEATURES = 4,
    SV2_BACKEND_STATE = 8, /* u16 */
    SV2_WORKER_PID = 10,
    SV2_WORKER_RESTARTS = 14,
    SV2_JOBS_RUNNING = 18,
    SV2_LAST_CRASH = 22, /* u16 length + bytes */
};

/* The optional pair after last_crash (SPEC 11.6), from Y, its end. */
enum {
    SV2_GENERATIONS = 0,
    SV2_GENERATION_US = 8,
};

_Static_assert(GEN_PROMPTS + 3 * GEN_PROMPT_PAIR == WEAVE_GENERATE_FIXED_SIZE,
               "generate request layout");
_Static_assert(GRESP_IMAGE == WEAVE_RESPONSE_FIXED_SIZE,
               "generate response layout");
_Static_assert(SRESP_BACKEND + 2 + 2 == WEAVE_STATUS_RESP_FIXED_SIZE,
               "status response layout");
_Static_assert(ERR_MESSAGE + 2 == WEAVE_ERROR_FIXED_SIZE, "error layout");
_Static_assert(HDR_RESERVED + 4 == WEAVE_HEADER_SIZE, "header layout");
_Static_assert(WEAVE_GENERATE_FIXED_SIZE + OPT_SHIFT == WEAVE_GENERATE_OPTIONS_FIXED_SIZE,
               "generate request with options layout");
_Static_assert(SHM_SEED + 8 == WEAVE_SHM_RESPONSE_SIZE, "shared-memory response layout");
_Static_assert(QUEUED_DEPTH + 4 == WEAVE_QUEUED_SIZE, "queued layout");
_Static_assert(PROGRESS_ELAPSED_MS + 4 == WEAVE_PROGRESS_SIZE, "progress layout");
_Static_assert(HEARTBEAT_ELAPSED_MS + 4 == WEAVE_HEARTBEAT_SIZE, "heartbeat layout");
_Static_assert(SV2_LAST_CRASH + 2 == WEAVE_STATUS_V2_FIXED_SIZE, "version-2 status layout");
_Static_assert(SV2_GENERATION_US + 8 == WEAVE_STATUS_V2_TOTALS_SIZE, "version-2 status totals layout");

#endif /* WEAVE_PROTOCOL_LAYOUT_H */
