/*
 * Runs every shared test vector (the *.vec files in proto_spec/testdata)
 * through the C codec: decode result, every decoded field, the error triple
 * the daemon would send, and the re-encoded bytes. One line per vector, then
 * "N passed, N failed" (CI parses it). Zero vectors is a failure: an empty
 * or misplaced directory must not look like success.
 *
 * Usage: protocol_vectors_test [DIR | FILE.vec]...
 * Without arguments: $TEST_SRCDIR/$TEST_WORKSPACE/proto_spec/testdata under
 * Bazel, ./proto_spec/testdata otherwise.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vecfile.h"
#include "weave/protocol.h"
#include "protocol/utf8.h"
#include "protocol/wire.h"

/* Re-encoding can grow a request whose prompts overlap: three 2048-byte
 * copies laid out back to back, plus slack for the header. */
#define REENCODE_SLACK (3 * WEAVE_MAX_PROMPT_LEN + 64)

struct check {
    struct vec_file *v;
    const char *name;
    char why[600];
    int bad;
};

static void fail(struct check *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Keeps the first failure: later ones are usually consequences. */
static void fail(struct check *c, const char *fmt, ...)
{
    if (c->bad)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof c->why, fmt, ap);
    va_end(ap);
    c->bad = 1;
}

static const char *need(struct check *c, const char *key)
{
    const char *s = vec_get(c->v, key);
    if (s == NULL)
        fail(c, "missing key \"%s\"", key);
    return s;
}

/* Decimal, or hex with 0x; the whole value, no sign. */
static int parse_u64(const char *s, uint64_t *out)
{
    int base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (*s == '\0' || *s == '-' || *s == '+' || *s == ' ')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, base);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

static int want_u64(struct check *c, const char *key, uint64_t *out)
{
    const char *s = need(c, key);
    if (s == NULL)
        return -1;
    if (parse_u64(s, out) != 0) {
        fail(c, "%s: \"%s\" is not an integer", key, s);
        return -1;
    }
    return 0;
}

static void expect_u64(struct check *c, const char *key, uint64_t got)
{
    uint64_t want;
    if (want_u64(c, key, &want) == 0 && want != got)
        fail(c, "%s: decoded %" PRIu64 " (0x%" PRIx64 "), vector says %" PRIu64,
             key, got, got, want);
}

static void expect_hex(struct check *c, const char *key,
                       const struct weave_bytes *got)
{
    const char *s = need(c, key);
    uint8_t *want;
    size_t n;
    if (s == NULL)
        return;
    if (vec_hex_decode(s, &want, &n) != 0) {
        fail(c, "%s: bad hex", key);
        return;
    }
    if (n != got->len || (n > 0 && memcmp(want, got->data, n) != 0))
        fail(c, "%s: decoded %u bytes that differ from the vector's %zu",
             key, (unsigned)got->len, n);
    free(want);
}

static void expect_text(struct check *c, const char *key,
                        const struct weave_bytes *got)
{
    const char *s = need(c, key);
    if (s == NULL)
        return;
    size_t n = strlen(s);
    if (n != got->len || (n > 0 && memcmp(s, got->data, n) != 0))
        fail(c, "%s: decoded \"%.*s\", vector says \"%s\"", key,
             (int)(got->len > 200 ? 200 : got->len), (const char *)got->data, s);
}

static void expect_type(struct check *c, const char *want)
{
    const char *s = need(c, "type");
    if (s != NULL && strcmp(s, want) != 0)
        fail(c, "type: decoded a %s, vector says %s", want, s);
}

/* ---- decoded values, per message type ---------------------------------- */

static void check_request(struct check *c, const struct weave_request *r)
{
    expect_u64(c, "version", r->version);
    if (r->msg_type == WEAVE_MSG_STATUS_REQUEST) {
        expect_type(c, "status_request");
        expect_u64(c, "request_id", r->u.status.request_id);
        return;
    }
    const struct weave_generate_request *g = &r->u.generate;
    if (r->msg_type == WEAVE_MSG_GENERATE_OPTIONS) {
        expect_type(c, "generate_request_options");
        expect_u64(c, "flags", r->flags);
    } else {
        expect_type(c, "generate_request");
        if (r->flags != 0)
            fail(c, "flags %u on a 0x0001 request", (unsigned)r->flags);
    }
    expect_u64(c, "request_id", g->request_id);
    expect_u64(c, "model_id", g->model_id);
    expect_u64(c, "width", g->width);
    expect_u64(c, "height", g->height);
    expect_u64(c, "steps", g->steps);
    expect_u64(c, "cfg_bits", weave_f32_bits(g->cfg_scale));
    expect_u64(c, "seed", g->seed);
    expect_hex(c, "clip_l_hex", &g->clip_l);
    expect_hex(c, "clip_g_hex", &g->clip_g);
    expect_hex(c, "t5_hex", &g->t5);
}

static void check_seed(struct check *c, int has_seed, uint64_t seed)
{
    const char *s = need(c, "seed");
    if (s == NULL)
        return;
    if (strcmp(s, "none") == 0) {
        if (has_seed)
            fail(c, "seed: decoded %" PRIu64 ", vector says none", seed);
        return;
    }
    if (!has_seed)
        fail(c, "seed: decoded none, vector says %s", s);
    else
        expect_u64(c, "seed", seed);
}

/* The fields the generate and shared-memory responses share (the type
 * first). */
#define EXPECT_IMAGE_FIELDS(c, type, r)                                \
    do {                                                               \
        expect_type((c), (type));                                      \
        expect_u64((c), "request_id", (r)->request_id);                \
        expect_u64((c), "status", (r)->status);                        \
        expect_u64((c), "generation_time_ms", (r)->generation_time_ms); \
        expect_u64((c), "width", (r)->width);                          \
        expect_u64((c), "height", (r)->height);                        \
        expect_u64((c), "channels", (r)->channels);                    \
    } while (0)

static void check_generate_response(struct check *c,
                                    const struct weave_generate_response *g)
{
    EXPECT_IMAGE_FIELDS(c, "generate_response", g);
    expect_hex(c, "image_hex", &g->image);
    check_seed(c, g->has_seed, g->seed);
}

static void check_status_response(struct check *c, uint16_t version,
                                  const struct weave_status_response *s)
{
    expect_type(c, version >= WEAVE_VERSION_2 ? "status_response_v2" : "status_response");
    expect_u64(c, "request_id", s->request_id);
    expect_u64(c, "status", s->status);
    expect_u64(c, "version_min", s->version_min);
    expect_u64(c, "version_max", s->version_max);
    expect_u64(c, "uptime_ms", s->uptime_ms);
    expect_u64(c, "requests_served", s->requests_served);
    expect_u64(c, "connections_open", s->connections_open);
    expect_u64(c, "max_connections", s->max_connections);
    expect_u64(c, "queue_depth", s->queue_depth);
    expect_text(c, "backend", &s->backend);
    expect_text(c, "daemon_version", &s->daemon_version);
    if (version < WEAVE_VERSION_2)
        return;
    expect_u64(c, "daemon_pid", s->daemon_pid);
    expect_u64(c, "features", s->features);
    expect_u64(c, "backend_state", s->backend_state);
    expect_u64(c, "worker_pid", s->worker_pid);
    expect_u64(c, "worker_restarts", s->worker_restarts);
    expect_u64(c, "jobs_running", s->jobs_running);
    expect_text(c, "last_crash", &s->last_crash);
    /* The optional pair (SPEC 11.6): listed exactly when it is there. */
    const char *gen = vec_get(c->v, "generations");
    const char *us = vec_get(c->v, "generation_us");
    if ((gen == NULL) != (us == NULL)) {
        fail(c, "the vector lists one of generations and generation_us");
    } else if (gen == NULL) {
        if (s->has_totals)
            fail(c, "generations: decoded %" PRIu64 ", vector says absent",
                 s->generations);
    } else if (!s->has_totals) {
        fail(c, "generations: decoded absent, vector says %s", gen);
    } else {
        expect_u64(c, "generations", s->generations);
        expect_u64(c, "generation_us", s->generation_us);
    }
}

static void check_shm_response(struct check *c, const struct weave_shm_response *s)
{
    EXPECT_IMAGE_FIELDS(c, "shm_generate_response", s);
    expect_u64(c, "image_size", s->image_size);
    expect_u64(c, "seed", s->seed);
}

static void check_error_response(struct check *c,
                                 const struct weave_error_response *e)
{
    expect_type(c, "error");
    expect_u64(c, "request_id", e->request_id);
    expect_u64(c, "status", e->status);
    expect_u64(c, "code", e->code);
    expect_text(c, "message", &e->message);
}

static void check_response(struct check *c, const struct weave_response *r)
{
    expect_u64(c, "version", r->version);
    switch (r->msg_type) {
    case WEAVE_MSG_GENERATE_RESPONSE:
        check_generate_response(c, &r->u.generate);
        break;
    case WEAVE_MSG_STATUS_RESPONSE:
        check_status_response(c, r->version, &r->u.status);
        break;
    case WEAVE_MSG_SHM_RESPONSE:
        check_shm_response(c, &r->u.shm);
        break;
    case WEAVE_MSG_QUEUED:
        expect_type(c, "queued");
        expect_u64(c, "request_id", r->u.queued.request_id);
        expect_u64(c, "position", r->u.queued.position);
        expect_u64(c, "queue_depth", r->u.queued.queue_depth);
        break;
    case WEAVE_MSG_PROGRESS:
        expect_type(c, "progress");
        expect_u64(c, "request_id", r->u.progress.request_id);
        expect_u64(c, "step", r->u.progress.step);
        expect_u64(c, "steps", r->u.progress.steps);
        expect_u64(c, "elapsed_ms", r->u.progress.elapsed_ms);
        break;
    case WEAVE_MSG_HEARTBEAT:
        expect_type(c, "heartbeat");
        expect_u64(c, "request_id", r->u.heartbeat.request_id);
        expect_u64(c, "phase", r->u.heartbeat.phase);
        expect_u64(c, "elapsed_ms", r->u.heartbeat.elapsed_ms);
        break;
    case WEAVE_MSG_ERROR:
        check_error_response(c, &r->u.error);
        break;
    default:
        fail(c, "decoded unexpected msg_type 0x%04X", (unsigned)r->msg_type);
        break;
    }
}

/* ---- one decoder, either side ------------------------------------------ */

struct decoded {
    int is_request;
    uint16_t vmin, vmax; /* the vector's `versions` (1..1 without the key) */
    struct weave_request req;
    struct weave_response resp;
};

/* "MIN..MAX", both 1..65535, MIN <= MAX. */
static int parse_versions(const char *s, uint16_t *vmin, uint16_t *vmax)
{
    const char *dots = strstr(s, "..");
    if (dots == NULL || dots == s)
        return -1;
    char lo[8];
    size_t n = (size_t)(dots - s);
    if (n >= sizeof lo)
        return -1;
    memcpy(lo, s, n);
    lo[n] = '\0';
    uint64_t a, b;
    if (parse_u64(lo, &a) != 0 || parse_u64(dots + 2, &b) != 0 || a < 1 ||
        a > b || b > UINT16_MAX)
        return -1;
    *vmin = (uint16_t)a;
    *vmax = (uint16_t)b;
    return 0;
}

static int decode(struct decoded *d, const uint8_t *m, size_t n,
                  struct weave_error *err)
{
    if (d->is_request)
        return weave_request_decode_versions(m, n, d->vmin, d->vmax, &d->req, err);
    return weave_response_decode_versions(m, n, d->vmin, d->vmax, &d->resp, err);
}

static size_t encode(const struct decoded *d, uint8_t *buf, size_t cap)
{
    if (d->is_request)
        return weave_encode_request(buf, cap, &d->req);
    return weave_encode_response(buf, cap, &d->resp);
}

static void check_fields(struct check *c, const struct decoded *d)
{
    if (d->is_request)
        check_request(c, &d->req);
    else
        check_response(c, &d->resp);
}

/*
 * Re-encodes the decoded value. With roundtrip: yes the bytes must be the
 * vector's exactly (and one byte less capacity must be refused); always,
 * the re-encoded message must decode to the same fields.
 */
static void check_reencode(struct check *c, const struct decoded *d,
                           int byte_exact)
{
    const uint8_t *orig = c->v->bytes;
    size_t n = c->v->nbytes;
    size_t cap = n + REENCODE_SLACK;
    uint8_t *buf = malloc(cap);
    if (buf == NULL) {
        fail(c, "out of memory");
        return;
    }
    size_t got = encode(d, buf, cap);
    if (got == 0) {
        fail(c, "re-encoding the decoded value failed");
    } else if (byte_exact && (got != n || memcmp(buf, orig, n) != 0)) {
        size_t at = 0;
        while (at < got && at < n && buf[at] == orig[at])
            at++;
        fail(c, "re-encoded %zu bytes, vector has %zu; first difference at byte %zu",
             got, n, at);
    } else if (byte_exact && encode(d, buf, n - 1) != 0) {
        fail(c, "encoder accepted a buffer one byte too small");
    } else {
        struct decoded again = {.is_request = d->is_request, .vmin = d->vmin, .vmax = d->vmax};
        struct weave_error err;
        if (decode(&again, buf, got, &err) != 0)
            fail(c, "re-encoded message does not decode: %u/%u %s",
                 (unsigned)err.status, (unsigned)err.code, err.message);
        else
            check_fields(c, &again);
    }
    free(buf);
}

/* ---- the two kinds of vector ------------------------------------------- */

static void check_ok(struct check *c, struct decoded *d)
{
    struct weave_error err;
    const char *rt = need(c, "roundtrip");
    if (rt != NULL && strcmp(rt, "yes") != 0 && strcmp(rt, "no") != 0)
        fail(c, "roundtrip: \"%s\" is not yes or no", rt);
    if (decode(d, c->v->bytes, c->v->nbytes, &err) != 0) {
        fail(c, "decode failed: %u/%u request_id=%" PRIu64 ": %s",
             (unsigned)err.status, (unsigned)err.code, err.request_id, err.message);
        return;
    }
    check_fields(c, d);
    if (!c->bad && rt != NULL)
        check_reencode(c, d, strcmp(rt, "yes") == 0);
}

/* The error reply the daemon would send must itself be a valid message. */
static void check_error_reply(struct check *c, const struct weave_error *err)
{
    const char *nul = memchr(err->message, '\0', sizeof err->message);
    if (nul == NULL || nul == err->message) {
        fail(c, "error message is empty or not terminated");
        return;
    }
    size_t mlen = (size_t)(nul - err->message);
    if (!weave_utf8_valid((const uint8_t *)err->message, mlen)) {
        fail(c, "error message is not valid UTF-8");
        return;
    }
    if (err->status != weave_error_code_status(err->code))
        fail(c, "status %u does not go with code %u", (unsigned)err->status,
             (unsigned)err->code);
    uint8_t buf[WEAVE_HEADER_SIZE + WEAVE_ERROR_FIXED_SIZE + WEAVE_MAX_ERROR_MESSAGE];
    size_t n = weave_encode_error(buf, sizeof buf, WEAVE_VERSION_MIN, err);
    struct weave_response r;
    struct weave_error err2;
    if (n == 0 || weave_response_decode(buf, n, &r, &err2) != 0 ||
        r.msg_type != WEAVE_MSG_ERROR || r.u.error.request_id != err->request_id ||
        r.u.error.status != err->status || r.u.error.code != err->code ||
        r.u.error.message.len != mlen)
        fail(c, "the encoded error reply does not decode back to itself");
}

static void check_error(struct check *c, struct decoded *d)
{
    uint64_t status, code, id = 0;
    int have_id = 0;
    struct weave_error err;

    int ok = want_u64(c, "error.status", &status) == 0;
    ok &= want_u64(c, "error.code", &code) == 0;
    if (d->is_request || vec_get(c->v, "error.request_id") != NULL)
        have_id = want_u64(c, "error.request_id", &id) == 0;
    const char *rt = vec_get(c->v, "roundtrip");
    if (rt != NULL && strcmp(rt, "no") != 0)
        fail(c, "roundtrip: \"%s\" on an error vector", rt);
    if (!ok)
        return;
    if (decode(d, c->v->bytes, c->v->nbytes, &err) == 0) {
        fail(c, "decoded fine, vector expects error %" PRIu64 "/%" PRIu64,
             status, code);
        return;
    }
    if (err.status != status || err.code != code || (have_id && err.request_id != id))
        fail(c, "got %u/%u request_id=%" PRIu64 ", vector expects %" PRIu64
                "/%" PRIu64 " request_id=%" PRIu64 " (message: %s)",
             (unsigned)err.status, (unsigned)err.code, err.request_id, status,
             code, id, err.message);
    else
        snprintf(c->why, sizeof c->why, "%u/%u %s", (unsigned)err.status,
                 (unsigned)err.code, err.message);
    check_error_reply(c, &err);
}

static void check_vector(struct check *c)
{
    struct decoded d = {.vmin = 1, .vmax = 1}; /* README: no `versions` key is 1..1 */
    (void)vec_get(c->v, "description");
    const char *versions = vec_get(c->v, "versions");
    if (versions != NULL && parse_versions(versions, &d.vmin, &d.vmax) != 0) {
        fail(c, "versions: \"%s\" is not MIN..MAX", versions);
        return;
    }
    const char *decoder = need(c, "decoder");
    const char *result = need(c, "result");
    if (decoder == NULL || result == NULL)
        return;
    if (strcmp(decoder, "request") == 0)
        d.is_request = 1;
    else if (strcmp(decoder, "response") != 0)
        fail(c, "decoder: \"%s\" is not request or response", decoder);

    if (strcmp(result, "ok") == 0)
        check_ok(c, &d);
    else if (strcmp(result, "error") == 0)
        check_error(c, &d);
    else
        fail(c, "result: \"%s\" is not ok or error", result);

    const char *extra = vec_unused_key(c->v);
    if (extra != NULL)
        fail(c, "unknown or unexpected key \"%s\"", extra);
}

/* ---- driver ------------------------------------------------------------- */

struct tally {
    long passed;
    long failed;
};

static void run_file(const char *path, const char *name, struct tally *t)
{
    struct vec_file v;
    struct check c = {.v = &v, .name = name};
    if (vec_load(path, &v, c.why, sizeof c.why) != 0)
        c.bad = 1;
    else
        check_vector(&c);
    if (c.bad) {
        printf("FAIL %s: %s\n", name, c.why);
        t->failed++;
    } else {
        printf("PASS %s (%s)\n", name, c.why[0] != '\0' ? c.why : "ok");
        t->passed++;
    }
    vec_free(&v);
}

static void run_dir(const char *dir, struct tally *t)
{
    char **names;
    long n = vec_list(dir, &names);
    if (n <= 0) {
        printf("FAIL %s: %s\n", dir,
               n < 0 ? "cannot read the directory" : "no *.vec files in it");
        t->failed++;
        return;
    }
    for (long i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        run_file(path, names[i], t);
    }
    vec_names_free(names, n);
}

static void default_dir(char *buf, size_t cap)
{
    const char *srcdir = getenv("TEST_SRCDIR");
    const char *ws = getenv("TEST_WORKSPACE");
    if (srcdir != NULL && ws != NULL)
        snprintf(buf, cap, "%s/%s/proto_spec/testdata", srcdir, ws);
    else
        snprintf(buf, cap, "proto_spec/testdata");
}

int main(int argc, char **argv)
{
    struct tally t = {0, 0};
    char dir[4096];

    if (argc < 2) {
        default_dir(dir, sizeof dir);
        run_dir(dir, &t);
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
            run_dir(argv[i], &t);
        else
            run_file(argv[i], argv[i], &t);
    }
    printf("%ld passed, %ld failed\n", t.passed, t.failed);
    return t.failed == 0 && t.passed > 0 ? 0 : 1;
}
