/*
 * codec_roundtrip: reads ONE message from stdin, decodes it with the C
 * request or response decoder (argv[1] = "request" | "response"; argv[2],
 * optional, the versions it serves as MIN..MAX, default 1..1), re-encodes
 * the decoded value with the C encoders and writes the bytes to stdout.
 * Cross-language tests feed it Go-encoded messages and compare.
 *
 * Exit status: 0 re-encoded; 3 decode failed, and stdout holds the error
 * reply the daemon would send for it (weave_encode_error); 2 usage;
 * 1 I/O or internal failure.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "weave/protocol.h"

/* Bytes past one maximum-size message cannot belong to it: stop there. */
#define INPUT_LIMIT WEAVE_MAX_MESSAGE_SIZE

static int read_all(int fd, uint8_t *buf, size_t cap, size_t *len)
{
    size_t n = 0;
    while (n < cap) {
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return -1;
        if (got == 0)
            break;
        n += (size_t)got;
    }
    *len = n;
    return 0;
}

static int write_all(int fd, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t put = write(fd, buf, len);
        if (put < 0 && errno == EINTR)
            continue;
        if (put <= 0)
            return -1;
        buf += put;
        len -= (size_t)put;
    }
    return 0;
}

/* Decodes and re-encodes; returns the output length or 0 with *err set. */
static size_t roundtrip(int is_request, uint16_t vmin, uint16_t vmax,
                        const uint8_t *in, size_t len, uint8_t *out, size_t cap,
                        struct weave_error *err)
{
    if (is_request) {
        struct weave_request r;
        if (weave_request_decode_versions(in, len, vmin, vmax, &r, err) != 0)
            return 0;
        return weave_encode_request(out, cap, &r);
    }
    struct weave_response r;
    if (weave_response_decode_versions(in, len, vmin, vmax, &r, err) != 0)
        return 0;
    return weave_encode_response(out, cap, &r);
}

/* "MIN..MAX" with 1 <= MIN <= MAX <= 65535. */
static int parse_versions(const char *s, uint16_t *vmin, uint16_t *vmax)
{
    unsigned lo, hi;
    char tail;
    if (sscanf(s, "%5u..%5u%c", &lo, &hi, &tail) != 2 || lo < 1 || lo > hi ||
        hi > 65535)
        return -1;
    *vmin = (uint16_t)lo;
    *vmax = (uint16_t)hi;
    return 0;
}

int main(int argc, char **argv)
{
    uint16_t vmin = 1, vmax = 1;
    if (argc < 2 || argc > 3 ||
        (strcmp(argv[1], "request") != 0 && strcmp(argv[1], "response") != 0) ||
        (argc == 3 && parse_versions(argv[2], &vmin, &vmax) != 0)) {
        fprintf(stderr, "usage: codec_roundtrip request|response [MIN..MAX] < message\n");
        return 2;
    }
    int is_request = strcmp(argv[1], "request") == 0;
    /* A canonical re-encoding is never larger than a maximum message: the
     * request grows at most to 3 prompts of 2048 bytes, a response shrinks. */
    uint8_t *in = malloc(INPUT_LIMIT);
    uint8_t *out = malloc(WEAVE_MAX_MESSAGE_SIZE);
    size_t len;
    if (in == NULL || out == NULL || read_all(0, in, INPUT_LIMIT, &len) != 0) {
        fprintf(stderr, "codec_roundtrip: cannot read stdin: %s\n", strerror(errno));
        return 1;
    }

    struct weave_error err;
    memset(&err, 0, sizeof err);
    size_t n = roundtrip(is_request, vmin, vmax, in, len, out, WEAVE_MAX_MESSAGE_SIZE, &err);
    int rc = 0;
    if (n == 0 && err.code == WEAVE_ERR_NONE) {
        fprintf(stderr, "codec_roundtrip: decoded, but re-encoding failed\n");
        rc = 1;
    } else if (n == 0) {
        fprintf(stderr, "codec_roundtrip: %u/%u request_id=%llu: %s\n",
                (unsigned)err.status, (unsigned)err.code,
                (unsigned long long)err.request_id, err.message);
        /* Error replies go out in a version-1 header (SPEC section 8). */
        n = weave_encode_error(out, WEAVE_MAX_MESSAGE_SIZE, WEAVE_VERSION_MIN, &err);
        rc = 3;
    }
    if (n > 0 && write_all(1, out, n) != 0) {
        fprintf(stderr, "codec_roundtrip: cannot write stdout: %s\n", strerror(errno));
        rc = 1;
    }
    free(in);
    free(out);
    return rc;
}
