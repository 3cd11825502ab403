/*
 * Encoders for version 2 (SPEC section 11): always in a version-2 header,
 * with protocol_encode.c's contract (size first, 0 leaves buf untouched,
 * format rules only).
 */
#include <string.h>

#include "layout.h"
#include "protocol_internal.h"
#include "weave/protocol.h"
#include "protocol/wire.h"

size_t weave_encode_generate_options(uint8_t *buf, size_t cap, uint32_t flags,
                                     const struct weave_generate_request *req)
{
    /* 0x0001's layout with flags and reserved after request_id: encode it
     * OPT_SHIFT bytes further on, then move request_id down in front of
     * them. */
    uint64_t prompts = (uint64_t)req->clip_l.len + req->clip_g.len + req->t5.len;
    size_t total = weave_message_size(WEAVE_GENERATE_OPTIONS_FIXED_SIZE + prompts, cap);
    if (total == 0)
        return 0;
    size_t v1 = weave_encode_generate_request(buf + OPT_SHIFT, cap - OPT_SHIFT,
                                              WEAVE_VERSION_2, req);
    if (v1 != total - OPT_SHIFT)
        return 0;
    uint8_t *p = buf + WEAVE_HEADER_SIZE;
    memmove(p + OPT_REQUEST_ID, p + OPT_SHIFT + GEN_REQUEST_ID, 8);
    weave_put_u32(p + OPT_FLAGS, flags);
    weave_put_u32(p + OPT_RESERVED, 0);
    weave_put_header(buf, WEAVE_VERSION_2, WEAVE_MSG_GENERATE_OPTIONS,
                     (uint32_t)(total - WEAVE_HEADER_SIZE));
    return total;
}

size_t weave_encode_shm_response(uint8_t *buf, size_t cap,
                                 const struct weave_shm_response *resp)
{
    size_t total = weave_message_size(WEAVE_SHM_RESPONSE_SIZE, cap);
    if (total == 0)
        return 0;
    uint8_t *p = buf + WEAVE_HEADER_SIZE;
    weave_put_header(buf, WEAVE_VERSION_2, WEAVE_MSG_SHM_RESPONSE, WEAVE_SHM_RESPONSE_SIZE);
    weave_put_u64(p + SHM_REQUEST_ID, resp->request_id);
    weave_put_u32(p + SHM_STATUS, resp->status);
    weave_put_u32(p + SHM_GENERATION_MS, resp->generation_time_ms);
    weave_put_u32(p + SHM_WIDTH, resp->width);
    weave_put_u32(p + SHM_HEIGHT, resp->height);
    weave_put_u32(p + SHM_CHANNELS, resp->channels);
    weave_put_u64(p + SHM_IMAGE_SIZE, resp->image_size);
    weave_put_u64(p + SHM_SEED, resp->seed);
    return total;
}

/* The header and request_id of a queued, progress or heartbeat message;
 * returns the payload pointer, or NULL when it does not fit in cap. */
static uint8_t *put_event(uint8_t *buf, size_t cap, uint16_t msg_type,
                          uint32_t plen, uint64_t request_id, size_t *total)
{
    *total = weave_message_size(plen, cap);
    if (*total == 0)
        return NULL;
    uint8_t *p = buf + WEAVE_HEADER_SIZE;
    weave_put_header(buf, WEAVE_VERSION_2, msg_type, plen);
    weave_put_u64(p + PAY_REQUEST_ID, request_id);
    return p;
}

size_t weave_encode_queued(uint8_t *buf, size_t cap, const struct weave_queued *q)
{
    size_t total;
    uint8_t *p = put_event(buf, cap, WEAVE_MSG_QUEUED, WEAVE_QUEUED_SIZE,
                           q->request_id, &total);
    if (p == NULL)
        return 0;
    weave_put_u32(p + QUEUED_POSITION, q->position);
    weave_put_u32(p + QUEUED_DEPTH, q->queue_depth);
    return total;
}

size_t weave_encode_progress(uint8_t *buf, size_t cap,
                             const struct weave_progress *pr)
{
    size_t total;
    uint8_t *p = put_event(buf, cap, WEAVE_MSG_PROGRESS, WEAVE_PROGRESS_SIZE,
                           pr->request_id, &total);
    if (p == NULL)
        return 0;
    weave_put_u32(p + PROGRESS_STEP, pr->step);
    weave_put_u32(p + PROGRESS_STEPS, pr->steps);
    weave_put_u32(p + PROGRESS_ELAPSED_MS, pr->elapsed_ms);
    return total;
}

size_t weave_encode_heartbeat(uint8_t *buf, size_t cap,
                              const struct weave_heartbeat *h)
{
    size_t total;
    uint8_t *p = put_event(buf, cap, WEAVE_MSG_HEARTBEAT, WEAVE_HEARTBEAT_SIZE,
                           h->request_id, &total);
    if (p == NULL)
        return 0;
    weave_put_u32(p + HEARTBEAT_PHASE, h->phase);
    weave_put_u32(p + HEARTBEAT_ELAPSED_MS, h->elapsed_ms);
    return total;
}

uint64_t weave_status_v2_size(const struct weave_status_response *resp)
{
    const struct weave_bytes *s = &resp->last_crash;
    if (s->len > WEAVE_MAX_STATUS_STRING || (s->len > 0 && s->data == NULL))
        return 0;
    return (uint64_t)WEAVE_STATUS_V2_FIXED_SIZE + s->len;
}

void weave_put_status_v2(uint8_t *p, const struct weave_status_response *resp)
{
    weave_put_u32(p + SV2_DAEMON_PID, resp->daemon_pid);
    weave_put_u32(p + SV2_FEATURES, resp->features);
    weave_put_u16(p + SV2_BACKEND_STATE, resp->backend_state);
    weave_put_u32(p + SV2_WORKER_PID, resp->worker_pid);
    weave_put_u32(p + SV2_WORKER_RESTARTS, resp->worker_restarts);
    weave_put_u32(p + SV2_JOBS_RUNNING, resp->jobs_running);
    weave_put_u16(p + SV2_LAST_CRASH, (uint16_t)resp->last_crash.len);
    if (resp->last_crash.len > 0)
        memcpy(p + WEAVE_STATUS_V2_FIXED_SIZE, resp->last_crash.data,
               resp->last_crash.len);
}
