/*
 * Shared by floor_server.c and floor_client.c: the few helpers both need.
 * Nothing here issues a syscall per request beyond what the callers do.
 */
#ifndef WEAVE_BENCH_FLOOR_COMMON_H
#define WEAVE_BENCH_FLOOR_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The wire constants come from the C codec, not restated here. */
#include "weave/protocol.h"

static inline uint32_t floor_be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static inline uint16_t floor_be16(const unsigned char *p)
{
    return (uint16_t)(((unsigned)p[0] << 8) | (unsigned)p[1]);
}

/* Reads a whole file into a malloc'd buffer (setup only, not per request). */
static inline unsigned char *floor_read_file(const char *path, size_t *len_out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size <= 0) {
        fprintf(stderr, "stat %s: empty or unreadable\n", path);
        close(fd);
        return NULL;
    }
    size_t len = (size_t)st.st_size;
    unsigned char *buf = malloc(len);
    if (buf == NULL) {
        close(fd);
        return NULL;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) {
                continue;
            }
            fprintf(stderr, "read %s: short\n", path);
            free(buf);
            close(fd);
            return NULL;
        }
        got += (size_t)n;
    }
    close(fd);
    *len_out = len;
    return buf;
}

/* Maps a whole file read-only (setup only) after copying its first
 * head_len bytes into head with pread, so the mapping itself is not touched:
 * a page counts in VmRSS only once a reply using it was sent, and the idle
 * RSS is the server's own, not the size of its precomputed payloads. */
static inline unsigned char *floor_map_file(const char *path, size_t *len_out, unsigned char *head, size_t head_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size <= 0) {
        fprintf(stderr, "stat %s: empty or unreadable\n", path);
        close(fd);
        return NULL;
    }
    memset(head, 0, head_len);
    if (pread(fd, head, head_len, 0) < 0) {
        fprintf(stderr, "read %s: %s\n", path, strerror(errno));
        close(fd);
        return NULL;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        fprintf(stderr, "mmap %s: %s\n", path, strerror(errno));
        return NULL;
    }
    *len_out = (size_t)st.st_size;
    return p;
}

#endif
