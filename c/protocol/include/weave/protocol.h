/*
 * Weave protocol codec, versions 1 and 2 (proto_spec/SPEC.md is the
 * authority; version 2 is its section 11).
 *
 * Pure functions over caller-owned buffers: nothing here allocates, reads a
 * socket or keeps state. Decoders never read past `len`, never trust a length
 * field before checking it, and report failures as the (status, code) pair
 * the daemon must send back, so the daemon's error path is one call.
 */
#ifndef WEAVE_PROTOCOL_H
#define WEAVE_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#define WEAVE_MAGIC 0x57455645u /* "WEVE" */
/* The versions the daemon serves: weave_header_decode and the two
 * decoders without _versions accept exactly these, and the status reply
 * reports them. Version 2 is in the codec (the _versions functions), not yet
 * served. */
#define WEAVE_VERSION_MIN 1
#define WEAVE_VERSION_MAX 1
#define WEAVE_VERSION_2 2
#define WEAVE_CODEC_VERSION_MAX 2 /* the newest version the codec decodes */
#define WEAVE_HEADER_SIZE 16u
#define WEAVE_MAX_MESSAGE_SIZE 10485760u /* 10 MiB, header included */
#define WEAVE_MAX_PAYLOAD_SIZE (WEAVE_MAX_MESSAGE_SIZE - WEAVE_HEADER_SIZE)

#define WEAVE_GENERATE_FIXED_SIZE 60u   /* request payload before prompt_data */
#define WEAVE_RESPONSE_FIXED_SIZE 32u   /* response payload before pixels */
#define WEAVE_SEED_EXT_SIZE 8u          /* seed appended after the pixels */
#define WEAVE_ERROR_FIXED_SIZE 18u      /* error payload before message */
#define WEAVE_STATUS_REQ_SIZE 8u
#define WEAVE_STATUS_RESP_FIXED_SIZE 48u /* incl. both length fields, empty strings */
#define WEAVE_MAX_PROMPT_LEN 2048u
#define WEAVE_MAX_ERROR_MESSAGE 255u    /* what this implementation sends */
#define WEAVE_MAX_STATUS_STRING 255u
#define WEAVE_DAEMON_CHANNELS 3u        /* the daemon always answers RGB */

/* Version 2 (SPEC section 11). */
#define WEAVE_GENERATE_OPTIONS_FIXED_SIZE 68u /* 0x0005 payload before prompt_data */
#define WEAVE_SHM_RESPONSE_SIZE 44u
#define WEAVE_MAX_SHM_IMAGE_SIZE (1ull << 30)
#define WEAVE_QUEUED_SIZE 16u
#define WEAVE_PROGRESS_SIZE 20u
#define WEAVE_HEARTBEAT_SIZE 16u
#define WEAVE_STATUS_V2_FIXED_SIZE 24u /* after daemon_version, empty last_crash */
#define WEAVE_STATUS_V2_TOTALS_SIZE 16u /* generations, generation_us (optional) */
#define WEAVE_FLAG_PROGRESS 0x1u       /* 0x0005 flags bit 0 */
#define WEAVE_FLAG_SHM 0x2u            /* 0x0005 flags bit 1 */
#define WEAVE_PHASE_QUEUED 1u
#define WEAVE_PHASE_RUNNING 2u

enum weave_msg_type {
    WEAVE_MSG_GENERATE_REQUEST = 0x0001,
    WEAVE_MSG_GENERATE_RESPONSE = 0x0002,
    WEAVE_MSG_STATUS_REQUEST = 0x0003,
    WEAVE_MSG_STATUS_RESPONSE = 0x0004,
    WEAVE_MSG_ERROR = 0x00FF,
    /* Version 2 only: unknown (error 12) in a version-1 header. */
    WEAVE_MSG_GENERATE_OPTIONS = 0x0005,
    WEAVE_MSG_SHM_RESPONSE = 0x0006,
    WEAVE_MSG_QUEUED = 0x0010,
    WEAVE_MSG_PROGRESS = 0x0011,
    WEAVE_MSG_HEARTBEAT = 0x0012,
};

enum weave_backend_state {
    WEAVE_BACKEND_UNLOADED = 0,
    WEAVE_BACKEND_STARTING = 1,
    WEAVE_BACKEND_LOADED = 2,
    WEAVE_BACKEND_RESTARTING = 3,
};

enum weave_status {
    WEAVE_STATUS_OK = 200,
    WEAVE_STATUS_BAD_REQUEST = 400,
    WEAVE_STATUS_SERVER_ERROR = 500,
};

enum weave_error_code {
    WEAVE_ERR_NONE = 0,
    WEAVE_ERR_INVALID_MAGIC = 1,
    WEAVE_ERR_UNSUPPORTED_VERSION = 2,
    WEAVE_ERR_INVALID_MODEL = 3,
    WEAVE_ERR_INVALID_PROMPT = 4,
    WEAVE_ERR_INVALID_DIMENSIONS = 5,
    WEAVE_ERR_INVALID_STEPS = 6,
    WEAVE_ERR_INVALID_CFG = 7,
    WEAVE_ERR_OUT_OF_MEMORY = 8,
    WEAVE_ERR_GPU = 9,
    WEAVE_ERR_TIMEOUT = 10,
    WEAVE_ERR_MALFORMED = 11,
    WEAVE_ERR_UNKNOWN_TYPE = 12,
    WEAVE_ERR_TOO_LARGE = 13,
    WEAVE_ERR_BUSY = 14,
    WEAVE_ERR_INTERNAL = 99,
};

/* A decode failure, already in the shape of the error reply to send. */
struct weave_error {
    uint64_t request_id;  /* echoed; 0 when it could not be read */
    uint32_t status;      /* 400 or 500 */
    uint32_t code;        /* enum weave_error_code */
    char message[WEAVE_MAX_ERROR_MESSAGE + 1]; /* NUL-terminated, for people */
};

struct weave_header {
    uint32_t magic;
    uint16_t version;
    uint16_t msg_type;
    uint32_t payload_len;
    uint32_t reserved;
};

/* A byte range inside the caller's message buffer (not NUL-terminated). */
struct weave_bytes {
    const uint8_t *data;
    uint32_t len;
};

struct weave_generate_request {
    uint64_t request_id;
    uint32_t model_id;
    uint32_t width;
    uint32_t height;
    uint32_t steps;
    float cfg_scale;
    uint64_t seed;
    struct weave_bytes clip_l;
    struct weave_bytes clip_g;
    struct weave_bytes t5;
};

struct weave_status_request {
    uint64_t request_id;
};

/* A decoded request: msg_type says which member is valid. A 0x0005
 * (generate request with options) fills u.generate, like 0x0001, and flags;
 * flags is 0 for every other type. */
struct weave_request {
    uint16_t version;
    uint16_t msg_type;
    uint32_t flags; /* WEAVE_FLAG_*; unknown bits kept as sent */
    union {
        struct weave_generate_request generate;
        struct weave_status_request status;
    } u;
};

struct weave_generate_response {
    uint64_t request_id;
    uint32_t status;
    uint32_t generation_time_ms;
    uint32_t width;
    uint32_t height;
    uint32_t channels;
    struct weave_bytes image;
    int has_seed;          /* seed extension present */
    uint64_t seed;
};

struct weave_status_response {
    uint64_t request_id;
    uint32_t status;
    uint16_t version_min;
    uint16_t version_max;
    uint64_t uptime_ms;
    uint64_t requests_served;
    uint32_t connections_open;
    uint32_t max_connections;
    uint32_t queue_depth;
    struct weave_bytes backend;
    struct weave_bytes daemon_version;
    /* Version 2 only (SPEC 11.6): decoded from, and encoded in, a version-2
     * header; ignored in version 1. */
    uint32_t daemon_pid;
    uint32_t features;      /* the 0x0005 flag bits the daemon honours */
    uint16_t backend_state; /* enum weave_backend_state */
    uint32_t worker_pid;
    uint32_t worker_restarts;
    uint32_t jobs_running;
    struct weave_bytes last_crash; /* <= 255 bytes when encoded */
    /* After last_crash, optional (SPEC 11.6): encoded when has_totals is
     * set; decoded as set when 16 bytes follow last_crash. */
    int has_totals;
    uint64_t generations;   /* jobs the backend finished with an image */
    uint64_t generation_us; /* their summed generation time */
};

/* 0x0006 (SPEC 11.4); the memfd travels beside the message, not in it. */
struct weave_shm_response {
    uint64_t request_id;
    uint32_t status;
    uint32_t generation_time_ms;
    uint32_t width;
    uint32_t height;
    uint32_t channels;
    uint64_t image_size; /* width*height*channels, <= 2^30 */
    uint64_t seed;
};

/* 0x0010 (SPEC 11.3). */
struct weave_queued {
    uint64_t request_id;
    uint32_t position; /* 1 = next to run; 1..queue_depth */
    uint32_t queue_depth;
};

/* 0x0011. */
struct weave_progress {
    uint64_t request_id;
    uint32_t step; /* 1..steps */
    uint32_t steps;
    uint32_t elapsed_ms;
};

/* 0x0012. */
struct weave_heartbeat {
    uint64_t request_id;
    uint32_t phase; /* WEAVE_PHASE_QUEUED or WEAVE_PHASE_RUNNING */
    uint32_t elapsed_ms;
};

struct weave_error_response {
    uint64_t request_id;
    uint32_t status;
    uint32_t code;
    struct weave_bytes message;
};

struct weave_response {
    uint16_t version;
    uint16_t msg_type;
    union {
        struct weave_generate_response generate;
        struct weave_status_response status;
        struct weave_error_response error;
        struct weave_shm_response shm;
        struct weave_queued queued;
        struct weave_progress progress;
        struct weave_heartbeat heartbeat;
    } u;
};

/*
 * Header checks, in SPEC order: magic (1), version (2), size (13). Does not
 * judge msg_type (the two decoders accept different sets). `hdr` must hold
 * WEAVE_HEADER_SIZE bytes. Returns 0, or -1 with *err filled.
 */
int weave_header_decode(const uint8_t *hdr, struct weave_header *out,
                        struct weave_error *err);

/* The same checks with the versions vmin..vmax accepted (clamped to what
 * the codec knows, 1..WEAVE_CODEC_VERSION_MAX). */
int weave_header_decode_versions(const uint8_t *hdr, uint16_t vmin,
                                 uint16_t vmax, struct weave_header *out,
                                 struct weave_error *err);

/*
 * The request-header rules a daemon applies while a request is still
 * arriving (SPEC section 2: a msg_type is a header check, answered before
 * the payload). `payload` holds the `got` payload bytes received so far
 * (may be NULL when got is 0).
 *
 * weave_request_type_served: 1 for the types a daemon serves in version 1
 * (generate and status requests), 0 for every other type.
 * weave_request_type_served_in: the same for a header of `version` (in
 * version 2 also 0x0005, SPEC 11.1); the request decoders' type table.
 *
 * weave_request_type_error: the reply to a header whose type is not served:
 * 400/12, request_id echoed when its 8 bytes are within `got`; the same
 * error weave_request_decode gives for that message.
 *
 * weave_request_echo_id: the request_id an error reply to this request
 * echoes: the first 8 payload bytes when the type is served in the header's
 * version, the header
 * declares at least 8 payload bytes and they have arrived; otherwise 0.
 */
int weave_request_type_served(uint16_t msg_type);
int weave_request_type_served_in(uint16_t version, uint16_t msg_type);
void weave_request_type_error(const struct weave_header *hdr,
                              const uint8_t *payload, size_t got,
                              struct weave_error *err);
uint64_t weave_request_echo_id(const struct weave_header *hdr,
                               const uint8_t *payload, size_t got);

/*
 * Decodes one complete request message (header and payload, `len` bytes).
 * Order: len < 16 (11), magic (1), version (2), size (13), msg_type not 1
 * or 3 (12), len shorter than 16 + payload_len (11), then the payload
 * checks of SPEC section 4 / 7. Bytes after 16 + payload_len are ignored.
 * Pointers in *out point into `msg`. Returns 0, or -1 with *err filled with
 * the reply the daemon must send (request_id echoed when the declared
 * payload has 8 bytes and they are within `len`; 0 for header errors).
 */
int weave_request_decode(const uint8_t *msg, size_t len,
                         struct weave_request *out, struct weave_error *err);

/* Decodes one complete response message (types 2, 4, 255). Same contract;
 * every payload rule broken is error 11. */
int weave_response_decode(const uint8_t *msg, size_t len,
                          struct weave_response *out, struct weave_error *err);

/*
 * The two decoders for a decoder serving versions vmin..vmax (the ones
 * above are these with WEAVE_VERSION_MIN..WEAVE_VERSION_MAX, i.e. 1..1).
 * In a version-2 header the request decoder also accepts 0x0005 (checked
 * as SPEC 11.2 says: section 4's rules at their new offsets, the reply size
 * only without WEAVE_FLAG_SHM), and the response decoder 0x0006,
 * 0x0010..0x0012 and the version-2 status fields (11.6). Version-1 types
 * are valid in either header; the version-2 types are error 12 in a
 * version-1 header.
 */
int weave_request_decode_versions(const uint8_t *msg, size_t len,
                                  uint16_t vmin, uint16_t vmax,
                                  struct weave_request *out,
                                  struct weave_error *err);
int weave_response_decode_versions(const uint8_t *msg, size_t len,
                                   uint16_t vmin, uint16_t vmax,
                                   struct weave_response *out,
                                   struct weave_error *err);

/*
 * Size in bytes of the generate response for an image, header and seed
 * extension included, or 0 when it would not fit in WEAVE_MAX_MESSAGE_SIZE
 * (or overflows, or a dimension is 0).
 */
size_t weave_generate_response_size(uint32_t width, uint32_t height,
                                    uint32_t channels);

/*
 * Encoders. Each writes a complete message into buf (capacity `cap`) and
 * returns its length, or 0 (buf untouched) if `cap` is too small, the
 * message would exceed WEAVE_MAX_MESSAGE_SIZE, or a field breaks a format
 * rule: a string longer than its length field (status strings: 255),
 * image.len != width*height*channels, or len > 0 with data == NULL.
 * Value rules (width 64..2048, steps, cfg, ...) are the decoder's job and
 * are not checked, so tests can encode invalid requests. The generate
 * request is laid out as a sender does: clip_l, clip_g, t5 back to back.
 */
size_t weave_encode_generate_request(uint8_t *buf, size_t cap, uint16_t version,
                                     const struct weave_generate_request *req);
size_t weave_encode_status_request(uint8_t *buf, size_t cap, uint16_t version,
                                   const struct weave_status_request *req);
/* Copies resp->image.len pixel bytes; resp->image.data may be NULL only when
 * the caller fills pixels itself afterwards at buf + 48 (16 + 32). */
size_t weave_encode_generate_response(uint8_t *buf, size_t cap,
                                      uint16_t version,
                                      const struct weave_generate_response *resp);
/* In version 2 and later, the 11.6 fields follow daemon_version. */
size_t weave_encode_status_response(uint8_t *buf, size_t cap, uint16_t version,
                                    const struct weave_status_response *resp);
size_t weave_encode_error(uint8_t *buf, size_t cap, uint16_t version,
                          const struct weave_error *err);
/* Error message from a byte range (up to 65535 bytes, any content): re-encodes
 * a decoded error reply exactly. weave_encode_error is this with err->message. */
size_t weave_encode_error_response(uint8_t *buf, size_t cap, uint16_t version,
                                   const struct weave_error_response *resp);

/* Version-2 encoders: always a version-2 header, same contract as above.
 * The 0x0005 request is laid out like 0x0001 (prompts back to back),
 * reserved 0. */
size_t weave_encode_generate_options(uint8_t *buf, size_t cap, uint32_t flags,
                                     const struct weave_generate_request *req);
size_t weave_encode_shm_response(uint8_t *buf, size_t cap,
                                 const struct weave_shm_response *resp);
size_t weave_encode_queued(uint8_t *buf, size_t cap,
                           const struct weave_queued *q);
size_t weave_encode_progress(uint8_t *buf, size_t cap,
                             const struct weave_progress *p);
size_t weave_encode_heartbeat(uint8_t *buf, size_t cap,
                              const struct weave_heartbeat *h);

/* Re-encodes a decoded value with the encoder its msg_type names (and its
 * version; flags for 0x0005). 0 for a type the side does not have. */
size_t weave_encode_request(uint8_t *buf, size_t cap, const struct weave_request *r);
size_t weave_encode_response(uint8_t *buf, size_t cap, const struct weave_response *r);

/* Name of an error code for logs ("invalid magic", ...), never NULL. */
const char *weave_error_code_name(uint32_t code);

/* Status that goes with an error code (400 or 500). */
uint32_t weave_error_code_status(uint32_t code);

/* Fills *err: status from weave_error_code_status(code), message formatted
 * printf-style, truncated to 255 bytes at a UTF-8 character boundary; an
 * empty result is replaced by the code's name. */
void weave_error_set(struct weave_error *err, uint64_t request_id,
                     uint32_t code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif /* WEAVE_PROTOCOL_H */
