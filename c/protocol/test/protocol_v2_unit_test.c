/*
 * Unit tests for the codec's version-2 API (SPEC section 11) beyond the
 * shared vectors: the served-versions contract (the decoders without
 * _versions, which the daemon uses, stay 1..1), encoder capacity and format
 * checks, and the status encoder per version. Prints one line per case and
 * "N passed, N failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weave/protocol.h"
#include "protocol/wire.h"
#include "unit.h"


#define BYTES(s) ((struct weave_bytes){(const uint8_t *)(s), (uint32_t)strlen(s)})

static struct weave_generate_request cat(uint64_t id, uint32_t side)
{
    struct weave_generate_request g = {
        .request_id = id, .width = side, .height = side, .steps = 28,
        .cfg_scale = 7.0f, .seed = 0, .clip_l = BYTES("a cat in space"),
        .clip_g = BYTES("a cat in space"), .t5 = BYTES("a cat in space"),
    };
    return g;
}

static void test_served_versions_stay_1(void)
{
    uint8_t buf[64];
    struct weave_status_request sr = {.request_id = 9};
    size_t n = weave_encode_status_request(buf, sizeof buf, WEAVE_VERSION_2, &sr);
    CHECK(n == WEAVE_HEADER_SIZE + WEAVE_STATUS_REQ_SIZE);

    struct weave_header h;
    struct weave_error err;
    CHECK(weave_header_decode(buf, &h, &err) == -1);
    CHECK(err.code == WEAVE_ERR_UNSUPPORTED_VERSION && err.request_id == 0);
    CHECK(weave_header_decode_versions(buf, 1, 2, &h, &err) == 0 && h.version == 2);
    /* Asking for more than the codec knows is clamped. */
    buf[5] = 3;
    CHECK(weave_header_decode_versions(buf, 0, 9, &h, &err) == -1);
    CHECK(err.code == WEAVE_ERR_UNSUPPORTED_VERSION);
    buf[5] = 0;
    CHECK(weave_header_decode_versions(buf, 0, 9, &h, &err) == -1);
    buf[5] = 2;

    struct weave_request r;
    CHECK(weave_request_decode(buf, n, &r, &err) == -1);
    CHECK(err.code == WEAVE_ERR_UNSUPPORTED_VERSION && err.status == 400);
    CHECK(weave_request_decode_versions(buf, n, 1, 2, &r, &err) == 0);
    CHECK(r.version == 2 && r.msg_type == WEAVE_MSG_STATUS_REQUEST &&
          r.u.status.request_id == 9);
    /* A decoder serving only 2 refuses version 1. */
    buf[5] = 1;
    CHECK(weave_request_decode_versions(buf, n, 2, 2, &r, &err) == -1);
    CHECK(err.code == WEAVE_ERR_UNSUPPORTED_VERSION);
    CHECK(WEAVE_VERSION_MIN == 1 && WEAVE_VERSION_MAX == 1);
}

static void test_options_roundtrip_and_layout(void)
{
    uint8_t buf[256], again[256];
    struct weave_generate_request g = cat(0x0102030405060708ull, 2048);
    size_t n = weave_encode_generate_options(buf, sizeof buf,
                                             WEAVE_FLAG_SHM | WEAVE_FLAG_PROGRESS, &g);
    CHECK(n == WEAVE_HEADER_SIZE + WEAVE_GENERATE_OPTIONS_FIXED_SIZE + 42);
    CHECK(weave_get_u16(buf + 4) == 2 && weave_get_u16(buf + 6) == 0x0005);
    CHECK(weave_get_u64(buf + 16) == 0x0102030405060708ull);
    CHECK(weave_get_u32(buf + 24) == 3 && weave_get_u32(buf + 28) == 0);
    CHECK(weave_get_u32(buf + 36) == 2048); /* width at payload offset 20 */

    struct weave_request r;
    struct weave_error err;
    CHECK(weave_request_decode_versions(buf, n, 1, 2, &r, &err) == 0);
    CHECK(r.msg_type == WEAVE_MSG_GENERATE_OPTIONS && r.flags == 3);
    CHECK(r.u.generate.width == 2048 && r.u.generate.t5.len == 14);
    CHECK(weave_encode_request(again, sizeof again, &r) == n &&
          memcmp(buf, again, n) == 0);

    /* Without SHM, 2048x2048 is error 5 (the inline reply does not fit). */
    n = weave_encode_generate_options(buf, sizeof buf, WEAVE_FLAG_PROGRESS, &g);
    CHECK(weave_request_decode_versions(buf, n, 1, 2, &r, &err) == -1);
    CHECK(err.code == WEAVE_ERR_INVALID_DIMENSIONS &&
          err.request_id == 0x0102030405060708ull);
    CHECK(strstr(err.message, "1856x1856") != NULL);

    /* In a version-1 header the type is unknown, request_id echoed. */
    buf[5] = 1;
    CHECK(weave_request_decode_versions(buf, n, 1, 2, &r, &err) == -1);
    CHECK(err.code == WEAVE_ERR_UNKNOWN_TYPE && err.request_id == 0x0102030405060708ull);
    CHECK(weave_request_decode(buf, n, &r, &err) == -1 && err.code == WEAVE_ERR_UNKNOWN_TYPE);

    /* A buffer one byte short is refused and left untouched. */
    memset(buf, 0xAA, sizeof buf);
    CHECK(weave_encode_generate_options(buf, 16 + 68 + 41, 0, &g) == 0);
    CHECK(buf[0] == 0xAA && buf[8] == 0xAA && buf[16 + 68 + 40] == 0xAA);
    g.t5.data = NULL;
    CHECK(weave_encode_generate_options(buf, sizeof buf, 0, &g) == 0);
}

static void test_events_roundtrip(void)
{
    uint8_t buf[64];
    struct weave_response r;
    struct weave_error err;

    struct weave_queued q = {.request_id = 5, .position = 2, .queue_depth = 3};
    size_t n = weave_encode_queued(buf, sizeof buf, &q);
    CHECK(n == WEAVE_HEADER_SIZE + WEAVE_QUEUED_SIZE);
    CHECK(weave_response_decode_versions(buf, n, 1, 2, &r, &err) == 0);
    CHECK(r.msg_type == WEAVE_MSG_QUEUED && r.u.queued.position == 2 &&
          r.u.queued.queue_depth == 3 && r.u.queued.request_id == 5);
    CHECK(weave_response_decode(buf, n, &r, &err) == -1 &&
          err.code == WEAVE_ERR_UNSUPPORTED_VERSION);
    CHECK(weave_encode_queued(buf, n - 1, &q) == 0);

    struct weave_progress p = {.request_id = 6, .step = 28, .steps = 28, .elapsed_ms = 9};
    n = weave_encode_progress(buf, sizeof buf, &p);
    CHECK(n == WEAVE_HEADER_SIZE + WEAVE_PROGRESS_SIZE);
    CHECK(weave_response_decode_versions(buf, n, 1, 2, &r, &err) == 0);
    CHECK(r.u.progress.step == 28 && r.u.progress.elapsed_ms == 9);
    p.step = 29;
    n = weave_encode_progress(buf, sizeof buf, &p); /* encoders do not judge values */
    CHECK(n > 0 && weave_response_decode_versions(buf, n, 1, 2, &r, &err) == -1);
    CHECK(err.code == WEAVE_ERR_MALFORMED && err.status == 400);

    struct weave_heartbeat h = {.request_id = 7, .phase = WEAVE_PHASE_RUNNING, .elapsed_ms = 500};
    n = weave_encode_heartbeat(buf, sizeof buf, &h);
    CHECK(weave_response_decode_versions(buf, n, 1, 2, &r, &err) == 0);
    CHECK(r.msg_type == WEAVE_MSG_HEARTBEAT && r.u.heartbeat.phase == 2);
    buf[5] = 1;
    CHECK(weave_response_decode_versions(buf, n, 1, 2, &r, &err) == -1 &&
          err.code == WEAVE_ERR_UNKNOWN_TYPE);

    struct weave_shm_response s = {.request_id = 8, .status = 200, .width = 16384,
                                   .height = 16384, .channels = 4,
                                   .image_size = WEAVE_MAX_SHM_IMAGE_SIZE, .seed = 1};
    n = weave_encode_shm_response(buf, sizeof buf, &s);
    CHECK(n == WEAVE_HEADER_SIZE + WEAVE_SHM_RESPONSE_SIZE);
    CHECK(weave_response_decode_versions(buf, n, 1, 2, &r, &err) == 0);
    CHECK(r.u.shm.image_size == WEAVE_MAX_SHM_IMAGE_SIZE && r.u.shm.seed == 1);
    s.height = 16385;
    s.image_size = 16384ull * 16385 * 4;
    n = weave_encode_shm_response(buf, sizeof buf, &s);
    CHECK(weave_response_decode_versions(buf, n, 1, 2, &r, &err) == -1 &&
          err.code == WEAVE_ERR_MALFORMED);
}

static void test_status_v2_encoder(void)
{
    uint8_t buf[512];
    struct weave_status_response st = {
        .request_id = 3, .status = 200, .version_min = 1, .version_max = 2,
        .backend = BYTES("procedural"), .daemon_version = BYTES("0.2.0"),
        .daemon_pid = 100, .features = 3, .backend_state = WEAVE_BACKEND_RESTARTING,
        .worker_pid = 0, .worker_restarts = 2, .jobs_running = 0,
        .last_crash = BYTES("backend crashed (SIGSEGV)"),
    };
    size_t v1 = weave_encode_status_response(buf, sizeof buf, 1, &st);
    CHECK(v1 == WEAVE_HEADER_SIZE + WEAVE_STATUS_RESP_FIXED_SIZE + 10 + 5);
    size_t v2 = weave_encode_status_response(buf, sizeof buf, 2, &st);
    CHECK(v2 == v1 + WEAVE_STATUS_V2_FIXED_SIZE + 25);

    struct weave_response r;
    struct weave_error err;
    CHECK(weave_response_decode_versions(buf, v2, 1, 2, &r, &err) == 0);
    CHECK(r.version == 2 && r.u.status.backend_state == 3 &&
          r.u.status.worker_restarts == 2 && r.u.status.daemon_pid == 100 &&
          r.u.status.last_crash.len == 25 &&
          memcmp(r.u.status.last_crash.data, "backend crashed (SIGSEGV)", 25) == 0);
    /* A version-2 header with only section 7's fields is malformed. */
    CHECK(weave_encode_status_response(buf, sizeof buf, 1, &st) == v1);
    buf[5] = 2;
    CHECK(weave_response_decode_versions(buf, v1, 1, 2, &r, &err) == -1 &&
          err.code == WEAVE_ERR_MALFORMED);

    /* last_crash is a status string: at most 255 bytes, in version 2 only. */
    char long_crash[257];
    memset(long_crash, 'c', 256);
    long_crash[256] = '\0';
    st.last_crash = BYTES(long_crash);
    CHECK(weave_encode_status_response(buf, sizeof buf, 2, &st) == 0);
    CHECK(weave_encode_status_response(buf, sizeof buf, 1, &st) == v1);
    st.last_crash.len = 255;
    CHECK(weave_encode_status_response(buf, sizeof buf, 2, &st) == v1 + 24 + 255);
    CHECK(weave_encode_status_response(buf, v1 + 24 + 254, 2, &st) == 0);
}

/* The optional pair after last_crash (SPEC 11.6): written when set, read
 * when all 16 bytes are there, ignored when fewer are, and never in
 * version 1. */
static void test_status_v2_totals(void)
{
    uint8_t buf[512];
    struct weave_status_response st = {
        .request_id = 4, .status = 200, .version_min = 1, .version_max = 2,
        .backend = BYTES("procedural"), .daemon_version = BYTES("0.2.0"),
        .daemon_pid = 100, .features = 3, .backend_state = WEAVE_BACKEND_LOADED,
        .worker_pid = 101, .last_crash = BYTES("x"),
        .has_totals = 1, .generations = 0x0102030405060708ull,
        .generation_us = UINT64_MAX,
    };
    size_t v1 = weave_encode_status_response(buf, sizeof buf, 1, &st);
    CHECK(v1 == WEAVE_HEADER_SIZE + WEAVE_STATUS_RESP_FIXED_SIZE + 10 + 5);
    size_t n = weave_encode_status_response(buf, sizeof buf, 2, &st);
    CHECK(n == v1 + WEAVE_STATUS_V2_FIXED_SIZE + 1 + WEAVE_STATUS_V2_TOTALS_SIZE);
    /* Big-endian, right after last_crash. */
    CHECK(buf[n - 16] == 0x01 && buf[n - 9] == 0x08 && buf[n - 1] == 0xFF);
    CHECK(weave_encode_status_response(buf, n - 1, 2, &st) == 0);

    struct weave_response r;
    struct weave_error err;
    CHECK(weave_response_decode_versions(buf, n, 1, 2, &r, &err) == 0);
    CHECK(r.u.status.has_totals && r.u.status.generations == st.generations &&
          r.u.status.generation_us == UINT64_MAX &&
          r.u.status.last_crash.len == 1);

    /* 15 bytes after last_crash: not the pair, ignored (section 8). Cut
     * the payload by one byte and fix payload_len to match. */
    uint32_t plen = (uint32_t)(n - WEAVE_HEADER_SIZE - 1);
    buf[8] = (uint8_t)(plen >> 24);
    buf[9] = (uint8_t)(plen >> 16);
    buf[10] = (uint8_t)(plen >> 8);
    buf[11] = (uint8_t)plen;
    CHECK(weave_response_decode_versions(buf, n - 1, 1, 2, &r, &err) == 0);
    CHECK(!r.u.status.has_totals && r.u.status.generations == 0 &&
          r.u.status.generation_us == 0);

    /* Without the pair: the bytes end at last_crash, as before it existed. */
    st.has_totals = 0;
    CHECK(weave_encode_status_response(buf, sizeof buf, 2, &st) ==
          v1 + WEAVE_STATUS_V2_FIXED_SIZE + 1);
}

/* The request-header rules a daemon applies while a request arrives: the
 * version-1 table stays the daemon's, the per-version one adds 0x0005. */
static void test_request_type_tables(void)
{
    for (unsigned t = 0; t <= 0xFFFF; t++) {
        int v1 = t == WEAVE_MSG_GENERATE_REQUEST || t == WEAVE_MSG_STATUS_REQUEST;
        CHECK(weave_request_type_served((uint16_t)t) == v1);
        CHECK(weave_request_type_served_in(1, (uint16_t)t) == v1);
        CHECK(weave_request_type_served_in(2, (uint16_t)t) ==
              (v1 || t == WEAVE_MSG_GENERATE_OPTIONS));
    }
    uint8_t id[8] = {0, 0, 0, 0, 0, 0, 0x12, 0x34};
    struct weave_header h = {.magic = WEAVE_MAGIC, .version = 2,
                             .msg_type = WEAVE_MSG_GENERATE_OPTIONS, .payload_len = 110};
    CHECK(weave_request_echo_id(&h, id, 8) == 0x1234);
    h.version = 1;
    CHECK(weave_request_echo_id(&h, id, 8) == 0); /* not served in version 1 */
    struct weave_error e;
    weave_request_type_error(&h, id, 8, &e);
    CHECK(e.code == WEAVE_ERR_UNKNOWN_TYPE && e.request_id == 0x1234);
}

static void test_encode_dispatch(void)
{
    uint8_t buf[64];
    struct weave_request rq = {.msg_type = WEAVE_MSG_GENERATE_RESPONSE};
    CHECK(weave_encode_request(buf, sizeof buf, &rq) == 0);
    struct weave_response rs = {.msg_type = WEAVE_MSG_GENERATE_OPTIONS};
    CHECK(weave_encode_response(buf, sizeof buf, &rs) == 0);
    rs.msg_type = WEAVE_MSG_HEARTBEAT;
    rs.u.heartbeat.phase = 1;
    CHECK(weave_encode_response(buf, sizeof buf, &rs) == WEAVE_HEADER_SIZE + WEAVE_HEARTBEAT_SIZE);
}

static const struct unit_case CASES[] = {
    {"served_versions_stay_1", test_served_versions_stay_1},
    {"options_roundtrip_and_layout", test_options_roundtrip_and_layout},
    {"events_roundtrip", test_events_roundtrip},
    {"status_v2_encoder", test_status_v2_encoder},
    {"status_v2_totals", test_status_v2_totals},
    {"request_type_tables", test_request_type_tables},
    {"encode_dispatch", test_encode_dispatch},
};

int main(void)
{
    return unit_run(CASES, sizeof CASES / sizeof CASES[0]);
}
