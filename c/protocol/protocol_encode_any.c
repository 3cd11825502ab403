/*
 * Re-encoding a decoded value: one call per side that picks the encoder by
 * msg_type (tests, fuzzers and codec_roundtrip use it).
 */
#include "weave/protocol.h"

size_t weave_encode_request(uint8_t *buf, size_t cap, const struct weave_request *r)
{
    switch (r->msg_type) {
    case WEAVE_MSG_GENERATE_REQUEST:
        return weave_encode_generate_request(buf, cap, r->version, &r->u.generate);
    case WEAVE_MSG_GENERATE_OPTIONS:
        return weave_encode_generate_options(buf, cap, r->flags, &r->u.generate);
    case WEAVE_MSG_STATUS_REQUEST:
        return weave_encode_status_request(buf, cap, r->version, &r->u.status);
    default:
        return 0;
    }
}

size_t weave_encode_response(uint8_t *buf, size_t cap, const struct weave_response *r)
{
    switch (r->msg_type) {
    case WEAVE_MSG_GENERATE_RESPONSE:
        return weave_encode_generate_response(buf, cap, r->version, &r->u.generate);
    case WEAVE_MSG_STATUS_RESPONSE:
        return weave_encode_status_response(buf, cap, r->version, &r->u.status);
    case WEAVE_MSG_ERROR:
        return weave_encode_error_response(buf, cap, r->version, &r->u.error);
    case WEAVE_MSG_SHM_RESPONSE:
        return weave_encode_shm_response(buf, cap, &r->u.shm);
    case WEAVE_MSG_QUEUED:
        return weave_encode_queued(buf, cap, &r->u.queued);
    case WEAVE_MSG_PROGRESS:
        return weave_encode_progress(buf, cap, &r->u.progress);
    case WEAVE_MSG_HEARTBEAT:
        return weave_encode_heartbeat(buf, cap, &r->u.heartbeat);
    default:
        return 0;
    }
}
