/*
 * The worker process: this binary exec'd by the daemon with a hidden argv
 *
 *   weave-compute --worker-fd=3 --worker-ppid=PID [--step-delay-ms=N]
 *                 [--log-level=LEVEL] [--worker-backend=NAME]
 *
 * It inits the backend, says READY, then runs one JOB at a time: maps the
 * memfd that came with it, lets the backend render straight into it,
 * reports every step, and answers DONE. The mapping of a pooled inline
 * buffer (the JOB's buf_id) is kept for the next job that brings the same
 * buffer, and dropped after WORKER_MAP_IDLE_MS without a job: mapping and
 * unmapping 10 MB per job cost ~0.3-1.5 ms each, on the reply's path (the
 * unmap ran while the daemon was sending). A STOP for the running job makes
 * should_stop() true at the next step. EOF on the socket (the daemon
 * unloads us, or is gone) ends the process. Framing: worker_wire.h.
 */
#define _GNU_SOURCE
#include "daemon/worker.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/clock.h"
#include "daemon/exitcodes.h"
#include "worker_wire.h"

#define WORKER_FD_FLAG "--worker-fd="

/* Kept mappings: as many as the daemon pools (SV_POOL_MAX), dropped when
 * no job came for as long as the daemon keeps an idle pool. */
#define WORKER_MAPS 2
#define WORKER_MAP_IDLE_MS 100

struct kept_map {
    uint64_t id;   /* ww_job.buf_id; 0: the slot is free */
    uint8_t *map;
    size_t len;
    uint64_t used; /* for least-recently-used eviction */
};

struct child {
    int sock;
    const struct weave_backend *backend;
    void *state;
    uint32_t step_delay_ms;
    struct weave_log log;
    uint64_t job_id; /* running, 0 when idle */
    uint64_t t0;
    int progress;    /* the job wants STEP messages (PROGRESS flag) */
    int stop;        /* STOP received for job_id (or the daemon is gone) */
    int gone;        /* the socket reached EOF or failed */
    struct kept_map kept[WORKER_MAPS];
    uint64_t uses;
};

int weave_worker_child_requested(int argc, char *const argv[])
{
    return argc > 1 && strncmp(argv[1], WORKER_FD_FLAG,
                               sizeof WORKER_FD_FLAG - 1) == 0;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* Reads what is waiting on the socket without blocking: STOP for the
 * running job sets c->stop; EOF means the daemon is gone. */
static void drain(struct child *c)
{
    union {
        struct ww_stop stop;
        uint8_t raw[WW_MSG_MAX];
    } m;
    for (;;) {
        int fd;
        ssize_t n = ww_recv(c->sock, &m, sizeof m, &fd, MSG_DONTWAIT);
        if (fd >= 0)
            close(fd); /* nothing but a JOB carries one */
        if (n == -2)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            c->gone = c->stop = 1;
            return;
        }
        if ((size_t)n == sizeof m.stop && m.stop.type == WW_STOP &&
            m.stop.job_id == c->job_id)
            c->stop = 1;
    }
}

static int hook_should_stop(void *ctx)
{
    struct child *c = ctx;
    if (!c->stop)
        drain(c);
    return c->stop;
}

/* --step-delay-ms: waits after each step, but wakes for a STOP. */
static void step_delay(struct child *c)
{
    uint64_t end = weave_now_ms() + c->step_delay_ms;
    while (!c->stop) {
        uint64_t now = weave_now_ms();
        if (now >= end)
            return;
        struct pollfd pfd = {.fd = c->sock, .events = POLLIN};
        int r = poll(&pfd, 1, (int)(end - now));
        if (r > 0)
            drain(c);
        else if (r < 0 && errno != EINTR)
            return;
    }
}

static void hook_step(void *ctx, uint32_t step, uint32_t steps)
{
    struct child *c = ctx;
    uint64_t elapsed = weave_now_ms() - c->t0;
    struct ww_step m = {
        .type = WW_STEP,
        .step = step,
        .job_id = c->job_id,
        .steps = steps,
        .elapsed_ms = elapsed > UINT32_MAX ? UINT32_MAX : (uint32_t)elapsed,
    };
    /* Only a job that asked for progress pays a message per step. */
    if (c->progress && !c->gone && ww_send(c->sock, &m, sizeof m, -1, 0) != 0)
        c->gone = c->stop = 1;
    if (c->step_delay_ms > 0)
        step_delay(c);
}

static void send_done(struct child *c, uint64_t job_id, uint32_t result,
                      uint64_t us, const struct weave_error *err)
{
    struct ww_done d;
    memset(&d, 0, sizeof d);
    d.type = WW_DONE;
    d.result = result;
    d.job_id = job_id;
    d.generation_us = us;
    if (err != NULL) {
        d.err_status = err->status;
        d.err_code = err->code;
        snprintf(d.err_message, sizeof d.err_message, "%s", err->message);
    }
    if (!c->gone && ww_send(c->sock, &d, sizeof d, -1, 0) != 0)
        c->gone = 1;
}

static void kept_drop(struct kept_map *k)
{
    if (k->id != 0)
        munmap(k->map, k->len);
    k->id = 0;
    k->map = NULL;
    k->len = 0;
}

static int kept_any(const struct child *c)
{
    for (int i = 0; i < WORKER_MAPS; i++) {
        if (c->kept[i].id != 0)
            return 1;
    }
    return 0;
}

static void kept_drop_all(struct child *c)
{
    for (int i = 0; i < WORKER_MAPS; i++)
        kept_drop(&c->kept[i]);
}

/* The kept mapping of buffer id, or NULL. One of another size (never
 * expected: a buffer's size is fixed) is dropped. */
static uint8_t *kept_find(struct child *c, uint64_t id, size_t len)
{
    for (int i = 0; i < WORKER_MAPS; i++) {
        struct kept_map *k = &c->kept[i];
        if (k->id != id)
            continue;
        if (k->len != len) {
            kept_drop(k);
            return NULL;
        }
        k->used = ++c->uses;
        return k->map;
    }
    return NULL;
}

/* Keeps map for buffer id, in a free slot or the least recently used. */
static void kept_add(struct child *c, uint64_t id, uint8_t *map, size_t len)
{
    struct kept_map *k = &c->kept[0];
    for (int i = 0; i < WORKER_MAPS; i++) {
        if (c->kept[i].id == 0) {
            k = &c->kept[i];
            break;
        }
        if (c->kept[i].used < k->used)
            k = &c->kept[i];
    }
    kept_drop(k);
    k->id = id;
    k->map = map;
    k->len = len;
    k->used = ++c->uses;
}

/* Runs one JOB; takes fd (the memfd), closing it. */
static void run_job(struct child *c, const uint8_t *buf, size_t n, int fd)
{
    struct ww_job j;
    struct weave_error err;

    memset(&err, 0, sizeof err);
    if (n < sizeof j) {
        weave_warn(&c->log, "worker: short job message (%zu bytes)", n);
        if (fd >= 0)
            close(fd);
        return;
    }
    memcpy(&j, buf, sizeof j);
    uint64_t prompts = (uint64_t)j.clip_l_len + j.clip_g_len + j.t5_len;
    uint64_t image = (uint64_t)j.width * j.height * WEAVE_DAEMON_CHANNELS;
    if (fd < 0 || j.clip_l_len > WEAVE_MAX_PROMPT_LEN ||
        j.clip_g_len > WEAVE_MAX_PROMPT_LEN || j.t5_len > WEAVE_MAX_PROMPT_LEN ||
        n != sizeof j + prompts || j.map_len > (1ull << 31) ||
        j.pixel_offset > j.map_len || image > j.map_len - j.pixel_offset) {
        weave_error_set(&err, 0, WEAVE_ERR_INTERNAL, "worker: malformed job");
        if (fd >= 0)
            close(fd);
        send_done(c, j.job_id, WW_RESULT_FAILED, 0, &err);
        return;
    }
    int shm = (j.flags & WEAVE_GEN_FLAG_SHM) != 0;
    int keep = !shm && j.buf_id != 0;
    uint8_t *map = keep ? kept_find(c, j.buf_id, (size_t)j.map_len) : NULL;
    if (map != NULL) {
        close(fd); /* mapped since an earlier job */
    } else {
        /* A reused buffer's pages exist: map them all at once rather than
         * fault them in one by one. A fresh one is faulted as it is drawn. */
        map = mmap(NULL, (size_t)j.map_len, PROT_READ | PROT_WRITE,
                   MAP_SHARED | (j.warm ? MAP_POPULATE : 0), fd, 0);
        int map_errno = errno;
        close(fd); /* the mapping keeps the memory */
        errno = map_errno;
        if (map != MAP_FAILED && keep)
            kept_add(c, j.buf_id, map, (size_t)j.map_len);
    }
    if (map == MAP_FAILED) {
        weave_error_set(&err, 0, WEAVE_ERR_OUT_OF_MEMORY,
                        "worker: cannot map the %llu-byte image: %s",
                        (unsigned long long)j.map_len, strerror(errno));
        send_done(c, j.job_id, WW_RESULT_FAILED, 0, &err);
        return;
    }
    const uint8_t *p = buf + sizeof j;
    struct weave_gen_params params = {
        .width = j.width,
        .height = j.height,
        .steps = j.steps,
        .cfg_bits = j.cfg_bits,
        .seed = j.seed,
        .clip_l = {p, j.clip_l_len},
        .clip_g = {p + j.clip_l_len, j.clip_g_len},
        .t5 = {p + j.clip_l_len + j.clip_g_len, j.t5_len},
    };
    struct weave_gen_hooks hooks = {c, hook_step, hook_should_stop};

    c->job_id = j.job_id;
    c->progress = (j.flags & WEAVE_GEN_FLAG_PROGRESS) != 0;
    c->stop = 0;
    c->t0 = weave_now_ms();
    uint64_t t0_us = weave_now_us();
    int r = c->backend->generate(c->state, &params, &hooks,
                                 map + j.pixel_offset, (size_t)image, &err);
    uint64_t us = weave_now_us() - t0_us;
    /* A shared-memory result is unmapped before DONE: the daemon then seals
     * the memfd against writes, which a writable mapping left here would
     * make fail. A one-off inline one after DONE; a pooled one is kept
     * (run_job's caller drops it when no job comes). */
    if (shm)
        munmap(map, (size_t)j.map_len);
    if (r == 0)
        send_done(c, j.job_id, WW_RESULT_OK, us, NULL);
    else if (weave_gen_cancelled(&err))
        send_done(c, j.job_id, WW_RESULT_CANCELLED, us, &err);
    else
        send_done(c, j.job_id, WW_RESULT_FAILED, us, &err);
    if (!shm && !keep)
        munmap(map, (size_t)j.map_len);
    c->job_id = 0;
}

static int parse_args(struct child *c, int argc, char *const argv[],
                      long *ppid)
{
    enum weave_log_level level = WEAVE_LOG_INFO;
    long v;

    *ppid = 0;
    c->sock = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, WORKER_FD_FLAG, sizeof WORKER_FD_FLAG - 1) == 0 &&
            parse_long(a + sizeof WORKER_FD_FLAG - 1, 0, 1 << 20, &v) == 0)
            c->sock = (int)v;
        else if (strncmp(a, "--worker-ppid=", 14) == 0 &&
                 parse_long(a + 14, 1, 1L << 30, &v) == 0)
            *ppid = v;
        else if (strncmp(a, "--step-delay-ms=", 16) == 0 &&
                 parse_long(a + 16, 0, 86400000L, &v) == 0)
            c->step_delay_ms = (uint32_t)v;
        else if (strncmp(a, "--log-level=", 12) == 0 &&
                 weave_log_level_parse(a + 12, &level) == 0)
            ;
        else if (strncmp(a, "--worker-backend=", 17) == 0)
            ; /* weave_worker_child_backend() reads it */
        else
            return -1;
    }
    weave_log_init(&c->log, level, STDERR_FILENO);
    return c->sock >= 0 && *ppid > 0 ? 0 : -1;
}

const char *weave_worker_child_backend(int argc, char *const argv[])
{
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--worker-backend=", 17) == 0)
            return argv[i] + 17;
    }
    return NULL;
}

int weave_worker_child_main(int argc, char *const argv[],
                            const struct weave_backend *backend)
{
    struct child c;
    long ppid;

    memset(&c, 0, sizeof c);
    c.backend = backend;
    if (parse_args(&c, argc, argv, &ppid) != 0) {
        fprintf(stderr, "weave-compute: worker mode is internal to the daemon\n");
        return WEAVE_EXIT_USAGE;
    }
    /* Die with the daemon; if it is already gone we were orphaned between
     * fork and here (the death signal is then never sent): leave now. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != (pid_t)ppid)
        return 1;
    /* The same binary serves the same backend; say so if not (a test
     * binary choosing among several got it wrong). */
    const char *want = weave_worker_child_backend(argc, argv);
    if (want != NULL && strcmp(want, backend->name) != 0) {
        struct ww_init_failed f;
        memset(&f, 0, sizeof f);
        f.type = WW_INIT_FAILED;
        snprintf(f.message, sizeof f.message, "worker serves backend %.60s, "
                 "the daemon asked for %.60s", backend->name, want);
        ww_send(c.sock, &f, sizeof f, -1, 0);
        return 1;
    }
    /* The daemon ignores SIGPIPE; sends here use MSG_NOSIGNAL anyway. */
    signal(SIGPIPE, SIG_IGN);

    char err[WW_TEXT_MAX];
    err[0] = '\0';
    if (backend->init(&c.state, err, sizeof err) != 0) {
        struct ww_init_failed f;
        memset(&f, 0, sizeof f);
        f.type = WW_INIT_FAILED;
        snprintf(f.message, sizeof f.message, "%s", err);
        ww_send(c.sock, &f, sizeof f, -1, 0);
        return 1;
    }
    struct ww_ready ready = {.type = WW_READY, .pid = (int32_t)getpid()};
    if (ww_send(c.sock, &ready, sizeof ready, -1, 0) != 0) {
        backend->shutdown(c.state);
        return 1;
    }
    weave_debug(&c.log, "worker: backend %s ready", backend->name);

    uint8_t buf[WW_MSG_MAX];
    while (!c.gone) {
        if (kept_any(&c)) {
            /* Idle with buffers mapped: give them up if no job comes, so
             * the memory goes when the daemon drains its pool. */
            struct pollfd pfd = {.fd = c.sock, .events = POLLIN};
            int r = poll(&pfd, 1, WORKER_MAP_IDLE_MS);
            if (r == 0)
                kept_drop_all(&c);
            else if (r < 0 && errno == EINTR)
                continue;
        }
        int fd;
        ssize_t n = ww_recv(c.sock, buf, sizeof buf, &fd, 0);
        if (n == -2)
            continue;
        if (n <= 0)
            break; /* EOF: unload or the daemon is gone */
        uint32_t type;
        if ((size_t)n < sizeof type) {
            if (fd >= 0)
                close(fd);
            continue;
        }
        memcpy(&type, buf, sizeof type);
        if (type == WW_JOB)
            run_job(&c, buf, (size_t)n, fd); /* closes fd */
        else if (fd >= 0)
            close(fd);
        /* A STOP for a job that already finished: nothing to do. */
    }
    kept_drop_all(&c);
    backend->shutdown(c.state);
    close(c.sock);
    return 0;
}
