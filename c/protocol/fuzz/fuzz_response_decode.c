/*
 * libFuzzer target for the response decoder (the C client side; the Go
 * client has its own). A failure must be error 11 or a header error; a
 * success must re-encode to a message that decodes to the same value and
 * is never longer than the input. Every input runs through the decoder
 * serving 1..1 and the one serving 1..2 (SPEC section 11).
 * Build: tools/fuzz/run_c_fuzz.sh SECONDS response
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weave/protocol.h"

#define REQUIRE(cond)                                                          \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__,         \
                    __LINE__, #cond);                                          \
            abort();                                                           \
        }                                                                      \
    } while (0)

static int same_bytes(const struct weave_bytes *a, const struct weave_bytes *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static void check_same(const struct weave_response *a, const struct weave_response *b)
{
    REQUIRE(a->version == b->version && a->msg_type == b->msg_type);
    if (a->msg_type == WEAVE_MSG_GENERATE_RESPONSE) {
        const struct weave_generate_response *x = &a->u.generate, *y = &b->u.generate;
        REQUIRE(x->request_id == y->request_id && x->status == y->status);
        REQUIRE(x->generation_time_ms == y->generation_time_ms);
        REQUIRE(x->width == y->width && x->height == y->height);
        REQUIRE(x->channels == y->channels && same_bytes(&x->image, &y->image));
        REQUIRE(x->has_seed == y->has_seed && (!x->has_seed || x->seed == y->seed));
    } else if (a->msg_type == WEAVE_MSG_STATUS_RESPONSE) {
        const struct weave_status_response *x = &a->u.status, *y = &b->u.status;
        REQUIRE(x->request_id == y->request_id && x->status == y->status);
        REQUIRE(x->version_min == y->version_min && x->version_max == y->version_max);
        REQUIRE(x->uptime_ms == y->uptime_ms && x->requests_served == y->requests_served);
        REQUIRE(x->connections_open == y->connections_open);
        REQUIRE(x->max_connections == y->max_connections);
        REQUIRE(x->queue_depth == y->queue_depth);
        REQUIRE(same_bytes(&x->backend, &y->backend));
        REQUIRE(same_bytes(&x->daemon_version, &y->daemon_version));
        if (a->version >= WEAVE_VERSION_2) {
            REQUIRE(x->daemon_pid == y->daemon_pid && x->features == y->features);
            REQUIRE(x->backend_state == y->backend_state && x->worker_pid == y->worker_pid);
            REQUIRE(x->worker_restarts == y->worker_restarts);
            REQUIRE(x->jobs_running == y->jobs_running);
            REQUIRE(same_bytes(&x->last_crash, &y->last_crash));
            REQUIRE(x->has_totals == y->has_totals);
            REQUIRE(x->generations == y->generations);
            REQUIRE(x->generation_us == y->generation_us);
        }
    } else if (a->msg_type == WEAVE_MSG_SHM_RESPONSE) {
        REQUIRE(memcmp(&a->u.shm, &b->u.shm, sizeof a->u.shm) == 0);
    } else if (a->msg_type == WEAVE_MSG_QUEUED) {
        REQUIRE(memcmp(&a->u.queued, &b->u.queued, sizeof a->u.queued) == 0);
    } else if (a->msg_type == WEAVE_MSG_PROGRESS) {
        REQUIRE(memcmp(&a->u.progress, &b->u.progress, sizeof a->u.progress) == 0);
    } else if (a->msg_type == WEAVE_MSG_HEARTBEAT) {
        REQUIRE(memcmp(&a->u.heartbeat, &b->u.heartbeat, sizeof a->u.heartbeat) == 0);
    } else {
        REQUIRE(a->msg_type == WEAVE_MSG_ERROR);
        const struct weave_error_response *x = &a->u.error, *y = &b->u.error;
        REQUIRE(x->request_id == y->request_id && x->status == y->status);
        REQUIRE(x->code == y->code && same_bytes(&x->message, &y->message));
    }
}

static void one(const uint8_t *data, size_t size, uint16_t vmax)
{
    struct weave_response r, r2;
    struct weave_error err;

    if (weave_response_decode_versions(data, size, 1, vmax, &r, &err) != 0) {
        REQUIRE(err.code == WEAVE_ERR_MALFORMED || err.code == WEAVE_ERR_INVALID_MAGIC ||
                err.code == WEAVE_ERR_UNSUPPORTED_VERSION ||
                err.code == WEAVE_ERR_TOO_LARGE || err.code == WEAVE_ERR_UNKNOWN_TYPE);
        REQUIRE(err.status == 400 && err.message[0] != '\0');
        return;
    }
    REQUIRE(r.version >= 1 && r.version <= vmax);
    /* The re-encoding drops ignored bytes, so it fits in the input's size,
     * except that a status string over 255 bytes is refused by the encoder. */
    uint8_t *buf = malloc(size + 1);
    REQUIRE(buf != NULL);
    size_t n = weave_encode_response(buf, size, &r);
    if (n == 0) {
        REQUIRE(r.msg_type == WEAVE_MSG_STATUS_RESPONSE &&
                (r.u.status.backend.len > WEAVE_MAX_STATUS_STRING ||
                 r.u.status.daemon_version.len > WEAVE_MAX_STATUS_STRING ||
                 (r.version >= WEAVE_VERSION_2 &&
                  r.u.status.last_crash.len > WEAVE_MAX_STATUS_STRING)));
    } else {
        REQUIRE(weave_response_decode_versions(buf, n, 1, vmax, &r2, &err) == 0);
        check_same(&r, &r2);
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    one(data, size, 1);
    one(data, size, WEAVE_VERSION_2);
    return 0;
}
