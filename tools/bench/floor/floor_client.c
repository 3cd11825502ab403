/*
 * The "floor" client of //tools/bench: the load generator for the pure-C
 * floor pair (and, for attribution, against weave-compute).
 *
 * Per request it does exactly: socket, connect, write the request, read the
 * reply (header, then until the announced length), close. Timing uses
 * clock_gettime(CLOCK_MONOTONIC) (vDSO, no syscall) around those five steps.
 *
 *   floor_client --socket PATH --request FILE --expect-type T
 *                [--expect-len BYTES] (--iterations N | --duration-ms MS)
 *                [--concurrency K] [--warmup N] [--pause-us US] [--out FILE]
 *
 * --pause-us spins (busy, on the clock, touching no memory) for US
 * microseconds before every request, outside its timing: requests as far
 * apart as a generating daemon's, for the bench's floor-c-pause row.
 *
 * Prints one line: "ok=N fail=N elapsed_ns=N first_error=...". --out writes
 * one record per successful request: three native-endian uint64s, the
 * latency in ns, the reply's generation_time_ms (0 unless msg_type 2), and
 * the time to the first reply byte in ns.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "floor_common.h"

struct record {
    uint64_t latency_ns;
    uint64_t gen_ms;
    uint64_t first_byte_ns; /* from the start of the request to the first reply byte */
};

struct worker {
    pthread_t thread;
    uint64_t iterations; /* 0: run until the deadline */
    struct record *recs;
    size_t nrecs, cap;
    uint64_t fail;
    char first_error[160];
};

static struct sockaddr_un g_addr;
static const unsigned char *g_request;
static size_t g_request_len;
static unsigned g_expect_type;
static size_t g_expect_len;
static size_t g_bufsize;
static uint64_t g_deadline_ns;
static uint64_t g_warmup;
static uint64_t g_pause_ns;
static pthread_barrier_t g_barrier;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}


/* One request; returns 0 and sets *gen_ms and *first_byte (a clock
 * reading), or -1 with why set. */
static int one_request(unsigned char *buf, uint64_t *gen_ms, uint64_t *first_byte, const char **why)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) {
        *why = "socket";
        return -1;
    }
    if (connect(fd, (const struct sockaddr *)&g_addr, sizeof(g_addr)) != 0) {
        *why = errno == EAGAIN ? "connect: EAGAIN (backlog full)" : "connect";
        close(fd);
        return -1;
    }
    size_t off = 0;
    while (off < g_request_len) {
        ssize_t n = write(fd, g_request + off, g_request_len - off);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) {
                continue;
            }
            *why = "write";
            close(fd);
            return -1;
        }
        off += (size_t)n;
    }
    size_t got = 0;
    size_t want = WEAVE_HEADER_SIZE;
    int rc = 0;
    while (got < want) {
        ssize_t n = read(fd, buf + got, g_bufsize - got);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) {
                continue;
            }
            *why = n == 0 ? "reply cut short (EOF)" : "read";
            rc = -1;
            break;
        }
        if (got == 0) {
            *first_byte = now_ns();
        }
        got += (size_t)n;
        if (want == WEAVE_HEADER_SIZE && got >= WEAVE_HEADER_SIZE) {
            size_t total = WEAVE_HEADER_SIZE + (size_t)floor_be32(buf + 8);
            if (floor_be32(buf) != WEAVE_MAGIC || total > g_bufsize) {
                *why = "bad reply header";
                rc = -1;
                break;
            }
            want = total;
        }
    }
    close(fd);
    if (rc != 0) {
        return rc;
    }
    unsigned type = floor_be16(buf + 6);
    if (type != g_expect_type) {
        *why = type == WEAVE_MSG_ERROR ? "error reply (msg_type 0xFF)" : "unexpected msg_type";
        return -1;
    }
    if (g_expect_len != 0 && got != g_expect_len) {
        *why = "unexpected reply length";
        return -1;
    }
    *gen_ms = (type == WEAVE_MSG_GENERATE_RESPONSE && got >= WEAVE_HEADER_SIZE + 16) ? floor_be32(buf + WEAVE_HEADER_SIZE + 12) : 0;
    return 0;
}

static void pause_before_request(void)
{
    if (g_pause_ns == 0) {
        return;
    }
    uint64_t end = now_ns() + g_pause_ns;
    while (now_ns() < end) {
    }
}

static void *run(void *arg)
{
    struct worker *w = arg;
    unsigned char *buf = malloc(g_bufsize);
    if (buf == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    uint64_t gen = 0, first = 0;
    const char *why = NULL;
    for (uint64_t i = 0; i < g_warmup; i++) {
        pause_before_request();
        (void)one_request(buf, &gen, &first, &why);
    }
    pthread_barrier_wait(&g_barrier); /* warmed up */
    pthread_barrier_wait(&g_barrier); /* deadline set */
    for (uint64_t i = 0;; i++) {
        if (w->iterations != 0 ? i >= w->iterations : now_ns() >= g_deadline_ns) {
            break;
        }
        pause_before_request();
        uint64_t t0 = now_ns();
        int rc = one_request(buf, &gen, &first, &why);
        uint64_t t1 = now_ns();
        if (rc != 0) {
            if (w->fail++ == 0) {
                snprintf(w->first_error, sizeof(w->first_error), "%s (errno %d: %s)", why, errno, strerror(errno));
            }
            continue;
        }
        if (w->nrecs == w->cap) {
            w->cap = w->cap ? w->cap * 2 : 4096;
            w->recs = realloc(w->recs, w->cap * sizeof(*w->recs));
            if (w->recs == NULL) {
                fprintf(stderr, "out of memory\n");
                exit(1);
            }
        }
        w->recs[w->nrecs].latency_ns = t1 - t0;
        w->recs[w->nrecs].gen_ms = gen;
        w->recs[w->nrecs].first_byte_ns = first - t0;
        w->nrecs++;
    }
    free(buf);
    return NULL;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: floor_client --socket PATH --request FILE --expect-type T [--expect-len BYTES]\n"
            "                    (--iterations N | --duration-ms MS) [--concurrency K] [--warmup N]\n"
            "                    [--pause-us US] [--out FILE]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *sock_path = NULL, *req_path = NULL, *out_path = NULL;
    uint64_t iterations = 0, duration_ms = 0;
    int concurrency = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) {
            usage();
        }
        const char *v = argv[++i];
        if (strcmp(a, "--socket") == 0) {
            sock_path = v;
        } else if (strcmp(a, "--request") == 0) {
            req_path = v;
        } else if (strcmp(a, "--expect-type") == 0) {
            g_expect_type = (unsigned)strtoul(v, NULL, 0);
        } else if (strcmp(a, "--expect-len") == 0) {
            g_expect_len = (size_t)strtoull(v, NULL, 0);
        } else if (strcmp(a, "--iterations") == 0) {
            iterations = strtoull(v, NULL, 0);
        } else if (strcmp(a, "--duration-ms") == 0) {
            duration_ms = strtoull(v, NULL, 0);
        } else if (strcmp(a, "--concurrency") == 0) {
            concurrency = atoi(v);
        } else if (strcmp(a, "--warmup") == 0) {
            g_warmup = strtoull(v, NULL, 0);
        } else if (strcmp(a, "--pause-us") == 0) {
            uint64_t us = strtoull(v, NULL, 0);
            if (us > 60000000u) {
                usage();
            }
            g_pause_ns = us * 1000u;
        } else if (strcmp(a, "--out") == 0) {
            out_path = v;
        } else {
            usage();
        }
    }
    if (sock_path == NULL || req_path == NULL || g_expect_type == 0 || (iterations == 0) == (duration_ms == 0) ||
        concurrency < 1 || concurrency > 1024) {
        usage();
    }
    signal(SIGPIPE, SIG_IGN);
    memset(&g_addr, 0, sizeof(g_addr));
    g_addr.sun_family = AF_UNIX;
    if (strlen(sock_path) >= sizeof(g_addr.sun_path)) {
        fprintf(stderr, "socket path too long\n");
        return 1;
    }
    memcpy(g_addr.sun_path, sock_path, strlen(sock_path) + 1);
    g_request = floor_read_file(req_path, &g_request_len);
    if (g_request == NULL) {
        return 1;
    }
    g_bufsize = g_expect_len != 0 ? g_expect_len + 4096 : WEAVE_MAX_MESSAGE_SIZE;

    struct worker *ws = calloc((size_t)concurrency, sizeof(*ws));
    if (ws == NULL || pthread_barrier_init(&g_barrier, NULL, (unsigned)concurrency + 1) != 0) {
        return 1;
    }
    for (int i = 0; i < concurrency; i++) {
        if (iterations != 0) {
            ws[i].iterations = iterations / (uint64_t)concurrency + ((uint64_t)i < iterations % (uint64_t)concurrency);
            if (ws[i].iterations == 0) {
                ws[i].iterations = 1;
            }
        }
        if (pthread_create(&ws[i].thread, NULL, run, &ws[i]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 1;
        }
    }
    /* Two barriers: every worker has finished its warm-up, then the clock
     * starts and the deadline is published before the workers go. */
    pthread_barrier_wait(&g_barrier);
    uint64_t start = now_ns();
    g_deadline_ns = duration_ms != 0 ? start + duration_ms * 1000000u : UINT64_MAX;
    pthread_barrier_wait(&g_barrier);
    uint64_t ok = 0, fail = 0;
    const char *first_error = "";
    for (int i = 0; i < concurrency; i++) {
        pthread_join(ws[i].thread, NULL);
        ok += ws[i].nrecs;
        fail += ws[i].fail;
        if (first_error[0] == '\0' && ws[i].fail != 0) {
            first_error = ws[i].first_error;
        }
    }
    uint64_t elapsed = now_ns() - start;
    if (out_path != NULL) {
        FILE *f = fopen(out_path, "wb");
        if (f == NULL) {
            perror(out_path);
            return 1;
        }
        for (int i = 0; i < concurrency; i++) {
            if (ws[i].nrecs != 0 && fwrite(ws[i].recs, sizeof(struct record), ws[i].nrecs, f) != ws[i].nrecs) {
                perror(out_path);
                return 1;
            }
        }
        if (fclose(f) != 0) {
            perror(out_path);
            return 1;
        }
    }
    printf("ok=%llu fail=%llu elapsed_ns=%llu first_error=%s\n", (unsigned long long)ok, (unsigned long long)fail,
           (unsigned long long)elapsed, first_error);
    return 0;
}
