/*
 * Response decoder, version 2 (SPEC 11.3, 11.4, 11.6): the shared-memory
 * reply, the three progress messages and the version-2 status fields. Every
 * failure is error 11; bytes after the known fields are ignored.
 */

#include "layout.h"
#include "protocol_internal.h"
#include "weave/protocol.h"
#include "protocol/wire.h"

/*
 * width*height*channels without overflow: width*height < 2^64 always; the
 * product with channels (<= 4 here) is checked against the bound first.
 */
static int shm_size_ok(uint32_t w, uint32_t h, uint32_t c, uint64_t size)
{
    uint64_t pixels = (uint64_t)w * h;
    if (pixels > WEAVE_MAX_SHM_IMAGE_SIZE) /* times c >= 1 is over the bound */
        return 0;
    uint64_t bytes = pixels * c; /* <= 2^30 * 4: no wrap */
    return bytes == size && bytes <= WEAVE_MAX_SHM_IMAGE_SIZE;
}

static int decode_shm(const uint8_t *p, uint32_t plen,
                      struct weave_shm_response *out, struct weave_error *err)
{
    uint64_t id;
    if (weave_response_start(p, plen, WEAVE_SHM_RESPONSE_SIZE,
                             "shared-memory response", &id, err) != 0)
        return -1;
    out->request_id = id;
    out->image_size = weave_get_u64(p + SHM_IMAGE_SIZE);
    out->seed = weave_get_u64(p + SHM_SEED);
    if (weave_get_image_fields(p, id, "shared-memory response", &out->status,
                               &out->generation_time_ms, &out->width,
                               &out->height, &out->channels, err) != 0)
        return -1;
    if (!shm_size_ok(out->width, out->height, out->channels, out->image_size)) {
        weave_error_set(err, id, WEAVE_ERR_MALFORMED,
                        "image_size %llu is not %ux%ux%u, or over the %llu-byte limit",
                        (unsigned long long)out->image_size, (unsigned)out->width,
                        (unsigned)out->height, (unsigned)out->channels,
                        (unsigned long long)WEAVE_MAX_SHM_IMAGE_SIZE);
        return -1;
    }
    return 0;
}

static int decode_queued(const uint8_t *p, uint32_t plen,
                         struct weave_queued *out, struct weave_error *err)
{
    uint64_t id;
    if (weave_response_start(p, plen, WEAVE_QUEUED_SIZE, "queued", &id, err) != 0)
        return -1;
    out->request_id = id;
    out->position = weave_get_u32(p + QUEUED_POSITION);
    out->queue_depth = weave_get_u32(p + QUEUED_DEPTH);
    if (out->position == 0 || out->position > out->queue_depth) {
        weave_error_set(err, id, WEAVE_ERR_MALFORMED,
                        "queued position %u of queue_depth %u (want 1..queue_depth)",
                        (unsigned)out->position, (unsigned)out->queue_depth);
        return -1;
    }
    return 0;
}

static int decode_progress(const uint8_t *p, uint32_t plen,
                           struct weave_progress *out, struct weave_error *err)
{
    uint64_t id;
    if (weave_response_start(p, plen, WEAVE_PROGRESS_SIZE, "progress", &id, err) != 0)
        return -1;
    out->request_id = id;
    out->step = weave_get_u32(p + PROGRESS_STEP);
    out->steps = weave_get_u32(p + PROGRESS_STEPS);
    out->elapsed_ms = weave_get_u32(p + PROGRESS_ELAPSED_MS);
    if (out->steps == 0 || out->step == 0 || out->step > out->steps) {
        weave_error_set(err, id, WEAVE_ERR_MALFORMED,
                        "progress step %u of %u (want steps >= 1, step 1..steps)",
                        (unsigned)out->step, (unsigned)out->steps);
        return -1;
    }
    return 0;
}

static int decode_heartbeat(const uint8_t *p, uint32_t plen,
                            struct weave_heartbeat *out, struct weave_error *err)
{
    uint64_t id;
    if (weave_response_start(p, plen, WEAVE_HEARTBEAT_SIZE, "heartbeat", &id, err) != 0)
        return -1;
    out->request_id = id;
    out->phase = weave_get_u32(p + HEARTBEAT_PHASE);
    out->elapsed_ms = weave_get_u32(p + HEARTBEAT_ELAPSED_MS);
    if (out->phase != WEAVE_PHASE_QUEUED && out->phase != WEAVE_PHASE_RUNNING) {
        weave_error_set(err, id, WEAVE_ERR_MALFORMED,
                        "heartbeat phase %u (want 1 queued or 2 running)",
                        (unsigned)out->phase);
        return -1;
    }
    return 0;
}

int weave_decode_v2_response(uint16_t msg_type, const uint8_t *p,
                             uint32_t plen, struct weave_response *out,
                             struct weave_error *err)
{
    switch (msg_type) {
    case WEAVE_MSG_SHM_RESPONSE:
        return decode_shm(p, plen, &out->u.shm, err);
    case WEAVE_MSG_QUEUED:
        return decode_queued(p, plen, &out->u.queued, err);
    case WEAVE_MSG_PROGRESS:
        return decode_progress(p, plen, &out->u.progress, err);
    case WEAVE_MSG_HEARTBEAT:
        return decode_heartbeat(p, plen, &out->u.heartbeat, err);
    default:
        /* The type table in protocol_response.c lets nothing else here. */
        weave_error_set(err, weave_payload_request_id(p, plen, plen),
                        WEAVE_ERR_UNKNOWN_TYPE,
                        "message type 0x%04X is not a response",
                        (unsigned)msg_type);
        return -1;
    }
}

int weave_decode_status_v2(const uint8_t *p, uint32_t plen, uint32_t at,
                           struct weave_status_response *out,
                           struct weave_error *err)
{
    /* at <= plen: it is the end of daemon_version inside the payload. */
    uint32_t left = plen - at;
    if (left < WEAVE_STATUS_V2_FIXED_SIZE) {
        weave_error_set(err, out->request_id, WEAVE_ERR_MALFORMED,
                        "version-2 status response has %u bytes after daemon_version, fewer than %u",
                        (unsigned)left, (unsigned)WEAVE_STATUS_V2_FIXED_SIZE);
        return -1;
    }
    const uint8_t *x = p + at;
    out->daemon_pid = weave_get_u32(x + SV2_DAEMON_PID);
    out->features = weave_get_u32(x + SV2_FEATURES);
    out->backend_state = weave_get_u16(x + SV2_BACKEND_STATE);
    out->worker_pid = weave_get_u32(x + SV2_WORKER_PID);
    out->worker_restarts = weave_get_u32(x + SV2_WORKER_RESTARTS);
    out->jobs_running = weave_get_u32(x + SV2_JOBS_RUNNING);
    uint32_t n = weave_get_u16(x + SV2_LAST_CRASH);
    if (n > left - WEAVE_STATUS_V2_FIXED_SIZE) {
        weave_error_set(err, out->request_id, WEAVE_ERR_MALFORMED,
                        "status response last_crash_len %u runs past the %u-byte payload",
                        (unsigned)n, (unsigned)plen);
        return -1;
    }
    out->last_crash.data = x + WEAVE_STATUS_V2_FIXED_SIZE;
    out->last_crash.len = n;
    /* The optional pair: whole, or absent (fewer bytes are ignored). */
    uint32_t after = left - WEAVE_STATUS_V2_FIXED_SIZE - n;
    out->has_totals = after >= WEAVE_STATUS_V2_TOTALS_SIZE;
    out->generations = out->generation_us = 0;
    if (out->has_totals) {
        const uint8_t *y = x + WEAVE_STATUS_V2_FIXED_SIZE + n;
        out->generations = weave_get_u64(y + SV2_GENERATIONS);
        out->generation_us = weave_get_u64(y + SV2_GENERATION_US);
    }
    return 0;
}
