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
    /* 0x0001's fields OPT_SHIFT bytes later, flags and reserved in between. */
    size_t total;
    uint8_t *p = weave_put_generate(buf, cap, WEAVE_VERSION_2,
                                    WEAVE_MSG_GENERATE_OPTIONS, OPT_SHIFT, req,
                                    &total);
    if (p == NULL)
        return 0;
    weave_put_u32(p + OPT_FLAGS, flags);
    weave_put_u32(p + OPT_RESERVED, 0);
    return total;
}

size_t weave_encode_shm_response(uint8_t *buf, size_t cap,
                                 const struct weave_shm_response *resp)
{
    size_t total;
    uint8_t *p = weave_put_start(buf, cap, WEAVE_VERSION_2, WEAVE_MSG_SHM_RESPONSE,
                                 WEAVE_SHM_RESPONSE_SIZE, resp->request_id, &total);
    if (p == NULL)
        return 0;
    weave_put_image_fields(p, resp->status, resp->generation_time_ms,
                           resp->width, resp->height, resp->channels);
    weave_put_u64(p + SHM_IMAGE_SIZE, resp->image_size);
    weave_put_u64(p + SHM_SEED, resp->seed);
    return total;
}

size_t weave_encode_queued(uint8_t *buf, size_t cap, const struct weave_queued *q)
{
    size_t total;
    uint8_t *p = weave_put_start(buf, cap, WEAVE_VERSION_2, WEAVE_MSG_QUEUED,
                                 WEAVE_QUEUED_SIZE, q->request_id, &total);
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
    uint8_t *p = weave_put_start(buf, cap, WEAVE_VERSION_2, WEAVE_MSG_PROGRESS,
                                 WEAVE_PROGRESS_SIZE, pr->request_id, &total);
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
    uint8_t *p = weave_put_start(buf, cap, WEAVE_VERSION_2, WEAVE_MSG_HEARTBEAT,
                                 WEAVE_HEARTBEAT_SIZE, h->request_id, &total);
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
    return (uint64_t)WEAVE_STATUS_V2_FIXED_SIZE + s->len +
           (resp->has_totals ? WEAVE_STATUS_V2_TOTALS_SIZE : 0);
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
    if (resp->has_totals) {
        uint8_t *y = p + WEAVE_STATUS_V2_FIXED_SIZE + resp->last_crash.len;
        weave_put_u64(y + SV2_GENERATIONS, resp->generations);
        weave_put_u64(y + SV2_GENERATION_US, resp->generation_us);
    }
}
