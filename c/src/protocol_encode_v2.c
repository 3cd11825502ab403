/*
 * Encoders for version 2 (SPEC section 11): always in a version-2 header,
 * with protocol_encode.c's contract (size first, 0 leaves buf untouched,
 * format rules only).
 */
#include <string.h>

#include "protocol_internal.h"
#include "weave/protocol.h"
#include "weave/wire.h"

size_t weave_encode_generate_options(uint8_t *buf, size_t cap, uint32_t flags,
                                     const struct weave_generate_request *req)
{
    /* 0x0001's layout with flags and reserved after request_id: encode it
     * 8 bytes further on, then move request_id down in front of them. */
    uint64_t prompts = (uint64_t)req->clip_l.len + req->clip_g.len + req->t5.len;
    size_t total = weave_message_size(WEAVE_GENERATE_OPTIONS_FIXED_SIZE + prompts, cap);
    if (total == 0)
        return 0;
    size_t v1 = weave_encode_generate_request(buf + 8, cap - 8, WEAVE_VERSION_2, req);
    if (v1 != total - 8)
        return 0;
    uint8_t *p = buf + WEAVE_HEADER_SIZE;
    memmove(p, p + 8, 8); /* request_id */
    weave_put_u32(p + 8, flags);
    weave_put_u32(p + 12, 0); /* reserved */
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
    weave_put_u64(p, resp->request_id);
    weave_put_u32(p + 8, resp->status);
    weave_put_u32(p + 12, resp->generation_time_ms);
    weave_put_u32(p + 16, resp->width);
    weave_put_u32(p + 20, resp->height);
    weave_put_u32(p + 24, resp->channels);
    weave_put_u64(p + 28, resp->image_size);
    weave_put_u64(p + 36, resp->seed);
    return total;
}

/* request_id followed by n u32 fields. */
static size_t put_event(uint8_t *buf, size_t cap, uint16_t msg_type,
                        uint64_t request_id, const uint32_t *fields, size_t n)
{
    uint32_t plen = (uint32_t)(8 + 4 * n);
    size_t total = weave_message_size(plen, cap);
    if (total == 0)
        return 0;
    uint8_t *p = buf + WEAVE_HEADER_SIZE;
    weave_put_header(buf, WEAVE_VERSION_2, msg_type, plen);
    weave_put_u64(p, request_id);
    for (size_t i = 0; i < n; i++)
        weave_put_u32(p + 8 + 4 * i, fields[i]);
    return total;
}

size_t weave_encode_queued(uint8_t *buf, size_t cap, const struct weave_queued *q)
{
    const uint32_t f[] = {q->position, q->queue_depth};
    return put_event(buf, cap, WEAVE_MSG_QUEUED, q->request_id, f, 2);
}

size_t weave_encode_progress(uint8_t *buf, size_t cap,
                             const struct weave_progress *p)
{
    const uint32_t f[] = {p->step, p->steps, p->elapsed_ms};
    return put_event(buf, cap, WEAVE_MSG_PROGRESS, p->request_id, f, 3);
}

size_t weave_encode_heartbeat(uint8_t *buf, size_t cap,
                              const struct weave_heartbeat *h)
{
    const uint32_t f[] = {h->phase, h->elapsed_ms};
    return put_event(buf, cap, WEAVE_MSG_HEARTBEAT, h->request_id, f, 2);
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
    weave_put_u32(p, resp->daemon_pid);
    weave_put_u32(p + 4, resp->features);
    weave_put_u16(p + 8, resp->backend_state);
    weave_put_u32(p + 10, resp->worker_pid);
    weave_put_u32(p + 14, resp->worker_restarts);
    weave_put_u32(p + 18, resp->jobs_running);
    weave_put_u16(p + 22, (uint16_t)resp->last_crash.len);
    if (resp->last_crash.len > 0)
        memcpy(p + WEAVE_STATUS_V2_FIXED_SIZE, resp->last_crash.data,
               resp->last_crash.len);
}
