/*
 * The jobs of the worker supervisor (supervisor.h): queue lists, the
 * memfd each job renders into, sending a job to the worker, and turning
 * its DONE into the job's result (the inline reply mapped in place, or the
 * sealed memfd for a shared-memory reply).
 */
#define _GNU_SOURCE
#include "supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon/clock.h"

/* ---- jobs and lists ----------------------------------------------------- */

void sv_list_push(struct job_list *l, struct weave_job *job)
{
    job->next = NULL;
    if (l->tail != NULL)
        l->tail->next = job;
    else
        l->head = job;
    l->tail = job;
    l->count++;
}

void sv_list_push_front(struct job_list *l, struct weave_job *job)
{
    job->next = l->head;
    l->head = job;
    if (l->tail == NULL)
        l->tail = job;
    l->count++;
}

struct weave_job *sv_list_pop(struct job_list *l)
{
    struct weave_job *job = l->head;
    if (job == NULL)
        return NULL;
    l->head = job->next;
    if (l->head == NULL)
        l->tail = NULL;
    l->count--;
    job->next = NULL;
    return job;
}

int sv_list_remove(struct job_list *l, struct weave_job *job)
{
    struct weave_job *prev = NULL;
    for (struct weave_job *j = l->head; j != NULL; prev = j, j = j->next) {
        if (j != job)
            continue;
        if (prev != NULL)
            prev->next = j->next;
        else
            l->head = j->next;
        if (l->tail == j)
            l->tail = prev;
        l->count--;
        j->next = NULL;
        return 1;
    }
    return 0;
}

struct job_priv *sv_priv_of(const struct weave_job *job)
{
    return job->priv;
}

void sv_close_memfd(struct job_priv *p)
{
    if (p != NULL && p->memfd >= 0) {
        close(p->memfd);
        p->memfd = -1;
    }
}

/* ---- the buffer pool (supervisor.h) ------------------------------------ */

static void buf_release(const struct sv_buf *b)
{
    munmap(b->map, b->cap);
    close(b->fd);
}

struct sv_pool *sv_pool_new(struct weave_worker *w)
{
    struct sv_pool *pl = calloc(1, sizeof *pl);
    if (pl != NULL) {
        pl->refs = 1;
        pl->w = w;
    }
    return pl;
}

void sv_pool_drain(struct sv_pool *pl)
{
    while (pl != NULL && pl->n > 0)
        buf_release(&pl->buf[--pl->n]);
}

static void pool_unref(struct sv_pool *pl)
{
    if (pl != NULL && --pl->refs == 0) {
        sv_pool_drain(pl);
        free(pl);
    }
}

void sv_pool_close(struct sv_pool *pl)
{
    if (pl == NULL)
        return;
    sv_pool_drain(pl);
    pl->w = NULL;
    pool_unref(pl);
}

/* Takes a buffer of at least need bytes (and not more than twice that, so
 * a small image does not hold on to a big buffer); 1 when found. */
static int pool_take(struct sv_pool *pl, size_t need, struct sv_buf *out)
{
    for (uint32_t i = 0; pl != NULL && i < pl->n; i++) {
        if (pl->buf[i].cap >= need && pl->buf[i].cap / 2 < need) {
            *out = pl->buf[i];
            pl->buf[i] = pl->buf[--pl->n];
            return 1;
        }
    }
    return 0;
}

/* A job gives its buffer back: kept if the worker lives and there is room,
 * else released. */
static void pool_put(struct sv_pool *pl, const struct sv_buf *b)
{
    if (pl->w == NULL || pl->n >= SV_POOL_MAX) {
        buf_release(b);
        return;
    }
    pl->buf[pl->n++] = *b;
    pl->w->pool_deadline_ms = weave_now_ms() + SV_POOL_IDLE_MS;
    sv_arm_timer(pl->w);
}

void weave_job_free(struct weave_job *job)
{
    if (job == NULL)
        return;
    struct job_priv *p = sv_priv_of(job);
    free(job->msg);
    if (p != NULL && p->pmap != NULL) {
        /* job->reply points into the buffer: back to the pool with it. */
        struct sv_buf b = {p->memfd, p->pmap, p->map_len, p->buf_id};
        if (p->pool != NULL)
            pool_put(p->pool, &b);
        else
            buf_release(&b);
        p->memfd = -1;
    } else {
        free(job->reply);
    }
    if (p != NULL && p->has_shm && job->shm_fd >= 0)
        close(job->shm_fd);
    sv_close_memfd(p);
    if (p != NULL)
        pool_unref(p->pool);
    free(p);
    free(job);
}

void sv_free_list(struct job_list *l)
{
    struct weave_job *j;
    while ((j = sv_list_pop(l)) != NULL)
        weave_job_free(j);
}

void sv_finish(struct weave_worker *w, struct weave_job *job)
{
    struct job_priv *p = sv_priv_of(job);
    if (p != NULL && p->pmap == NULL)
        sv_close_memfd(p); /* a pooled buffer keeps its memfd */
    sv_list_push(&w->done, job);
    sv_kick(w);
}

void sv_fail(struct weave_worker *w, struct weave_job *job, uint32_t code,
                 const char *msg)
{
    job->failed = 1;
    weave_error_set(&job->err, job->req.request_id, code, "%s", msg);
    sv_finish(w, job);
}

void sv_fail_pending(struct weave_worker *w, const char *msg)
{
    struct weave_job *j;
    while ((j = sv_list_pop(&w->pending)) != NULL) {
        w->queue_dirty = 1;
        sv_fail(w, j, WEAVE_ERR_GPU, msg);
    }
}

/* ---- feeding jobs ------------------------------------------------------- */

/*
 * Seed 0 asks the daemon to choose. The kernel's random source; if it
 * is not ready (early boot) or missing, the clock and pid mixed by
 * splitmix64: unpredictable enough for picking pictures, and never 0.
 */
static uint64_t pick_seed(const struct weave_log *log)
{
    uint64_t seed = 0;
    for (int tries = 0; tries < 4 && seed == 0; tries++) {
        ssize_t n = getrandom(&seed, sizeof seed, GRND_NONBLOCK);
        if (n == (ssize_t)sizeof seed)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t z = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        z ^= (uint64_t)getpid() << 32;
        z += 0x9e3779b97f4a7c15ull;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        seed = z ^ (z >> 31);
        weave_debug(log, "getrandom unavailable (%s); seed from the clock",
                    n < 0 ? strerror(errno) : "short read");
    }
    return seed != 0 ? seed : 1;
}

/* The image memory of one job, sized and sealed against resizing (so the
 * worker cannot shrink it under our mapping). Returns 0 or -1 (errno). */
static int make_memfd(struct job_priv *p, size_t size)
{
    int fd = memfd_create("weave-image", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -1;
    if (ftruncate(fd, (off_t)size) != 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    p->memfd = fd;
    p->map_len = size;
    return 0;
}

/* Sends job to the ready, idle worker. 0, or -1 when the job failed. */
int sv_send_job(struct weave_worker *w, struct weave_job *job)
{
    struct job_priv *p = sv_priv_of(job);
    const struct weave_generate_request *r = &job->req;
    int shm = (job->flags & WEAVE_GEN_FLAG_SHM) != 0;
    uint64_t image = (uint64_t)r->width * r->height * WEAVE_DAEMON_CHANNELS;
    size_t size = shm ? (size_t)image
                      : weave_generate_response_size(r->width, r->height,
                                                     WEAVE_DAEMON_CHANNELS);
    if (size == 0 || image == 0 || image > (1ull << 30)) {
        sv_fail(w, job, WEAVE_ERR_INTERNAL, "image size out of range");
        return -1;
    }
    struct sv_buf b;
    int warm = p->pmap != NULL;
    p->need = size;
    if (p->memfd >= 0) {
        /* Prepared already: the last worker died before it got the job. */
    } else if (!shm && pool_take(w->pool, size, &b)) {
        p->memfd = b.fd;
        p->pmap = b.map;
        p->map_len = b.cap;
        p->buf_id = b.id;
        warm = 1;
    } else if (make_memfd(p, size) != 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "out of memory: cannot allocate %zu bytes of "
                 "shared memory for the image: %s", size, strerror(errno));
        sv_fail(w, job, WEAVE_ERR_OUT_OF_MEMORY, msg);
        return -1;
    }
    if (!shm && w->pool != NULL && p->pool == NULL) {
        p->pool = w->pool;
        w->pool->refs++;
    }
    /* A new buffer that will go to the pool gets its id now: the worker
     * keeps its mapping of it by that id (worker_proc.c). */
    if (!shm && p->pool != NULL && p->buf_id == 0)
        p->buf_id = ++p->pool->next_id;
    if (job->seed == 0)
        job->seed = r->seed != 0 ? r->seed : pick_seed(w->log);
    job->channels = WEAVE_DAEMON_CHANNELS;
    job->image_size = image;

    uint8_t buf[WW_MSG_MAX];
    struct ww_job m;
    memset(&m, 0, sizeof m);
    m.type = WW_JOB;
    m.flags = job->flags;
    m.job_id = p->id;
    m.map_len = p->map_len;
    m.warm = (uint32_t)warm;
    m.buf_id = p->buf_id;
    m.pixel_offset = shm ? 0 : WEAVE_HEADER_SIZE + WEAVE_RESPONSE_FIXED_SIZE;
    m.width = r->width;
    m.height = r->height;
    m.steps = r->steps;
    memcpy(&m.cfg_bits, &r->cfg_scale, sizeof m.cfg_bits);
    m.seed = job->seed;
    m.clip_l_len = r->clip_l.len;
    m.clip_g_len = r->clip_g.len;
    m.t5_len = r->t5.len;
    size_t len = sizeof m + (size_t)r->clip_l.len + r->clip_g.len + r->t5.len;
    if (r->clip_l.len > WEAVE_MAX_PROMPT_LEN || r->clip_g.len > WEAVE_MAX_PROMPT_LEN ||
        r->t5.len > WEAVE_MAX_PROMPT_LEN || len > sizeof buf) {
        sv_fail(w, job, WEAVE_ERR_INTERNAL, "prompts too long for the worker");
        return -1;
    }
    memcpy(buf, &m, sizeof m);
    size_t off = sizeof m;
    if (r->clip_l.len)
        memcpy(buf + off, r->clip_l.data, r->clip_l.len);
    off += r->clip_l.len;
    if (r->clip_g.len)
        memcpy(buf + off, r->clip_g.data, r->clip_g.len);
    off += r->clip_g.len;
    if (r->t5.len)
        memcpy(buf + off, r->t5.data, r->t5.len);

    if (ww_send(w->proc.sock, buf, len, p->memfd, MSG_DONTWAIT) != 0) {
        /* An idle worker's socket is empty: it died (EPIPE) or is broken.
         * The job never started: it waits for the next worker. */
        weave_warn(w->log, "worker: cannot send a job to pid %ld: %s; "
                   "killing it", (long)w->proc.pid, strerror(errno));
        sv_kill_worker(w, KILL_NONE);
        w->ready = 0; /* nothing more goes to it */
        return 1;
    }
    weave_debug(w->log, "worker: request_id=%llu sent to pid %ld",
                (unsigned long long)r->request_id, (long)w->proc.pid);
    return 0;
}


/* ---- results ------------------------------------------------------------ */

void sv_job_done(struct weave_worker *w, const struct ww_done *d)
{
    struct weave_job *job = w->current;
    struct job_priv *p = sv_priv_of(job);
    uint64_t id = job->req.request_id;

    w->current = NULL;
    w->job_deadline_ms = w->cancel_deadline_ms = 0;
    /* The reply's field: the nearest whole ms (cutting the fraction off
     * would say 7 for 7.9 ms; the exact figure is in the status totals).
     * The worker's figure is trusted for nothing but reporting: a huge
     * one saturates the field and wraps the total. */
    job->generation_us = d->generation_us;
    uint64_t ms = d->generation_us / 1000u + (d->generation_us % 1000u >= 500u);
    job->generation_ms = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
    if (w->cancel_requested)
        job->cancelled = 1;
    if (d->result == WW_RESULT_CANCELLED) {
        job->cancelled = 1;
        sv_fail(w, job, WEAVE_ERR_TIMEOUT, "cancelled");
        return;
    }
    if (d->result != WW_RESULT_OK) {
        char msg[WW_TEXT_MAX];
        memcpy(msg, d->err_message, sizeof msg);
        msg[sizeof msg - 1] = '\0';
        uint32_t code = d->err_code;
        if (code == WEAVE_ERR_NONE || code > 0xFFFF)
            code = WEAVE_ERR_INTERNAL;
        job->failed = 1;
        weave_error_set(&job->err, id, code, "%s", msg);
        if (d->err_status == 400 || d->err_status == 500)
            job->err.status = d->err_status;
        sv_finish(w, job);
        return;
    }
    /* A good job: the streak of crashes is over. */
    w->ncrash = 0;
    w->generations++;
    w->generation_us += d->generation_us;
    w->backoff_next_ms = w->cfg.backoff_ms;

    if (job->flags & WEAVE_GEN_FLAG_SHM) {
        /* Fails (EBUSY) if the worker kept a writable mapping. */
        if (fcntl(p->memfd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
            char msg[128];
            snprintf(msg, sizeof msg, "cannot seal the image memory: %s",
                     strerror(errno));
            sv_fail(w, job, WEAVE_ERR_OUT_OF_MEMORY, msg);
            return;
        }
        job->shm_fd = p->memfd;
        p->memfd = -1;
        p->has_shm = 1;
        sv_finish(w, job);
        return;
    }
    /* Inline: map the rendered reply (the pixels are already in place at
     * offset 48) unless the buffer is a pooled one we keep mapped, and
     * write the header and fixed fields around them. */
    uint8_t *map = p->pmap;
    if (map == NULL) {
        map = mmap(NULL, p->map_len, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_POPULATE, p->memfd, 0);
        if (map == MAP_FAILED) {
            char msg[128];
            snprintf(msg, sizeof msg, "out of memory: cannot map the reply: %s",
                     strerror(errno));
            sv_fail(w, job, WEAVE_ERR_OUT_OF_MEMORY, msg);
            return;
        }
        p->pmap = map;
    }
    struct weave_generate_response resp = {
        .request_id = id,
        .status = WEAVE_STATUS_OK,
        .generation_time_ms = job->generation_ms,
        .width = job->req.width,
        .height = job->req.height,
        .channels = WEAVE_DAEMON_CHANNELS,
        .image = {NULL, (uint32_t)job->image_size},
        .has_seed = 1,
        .seed = job->seed,
    };
    size_t n = weave_encode_generate_response(map, p->need, job->version, &resp);
    if (n != p->need) {
        sv_fail(w, job, WEAVE_ERR_INTERNAL, "cannot encode the reply");
        return;
    }
    job->reply = map;
    job->reply_len = n;
    sv_finish(w, job);
}

void sv_deliver_started(struct weave_worker *w, struct weave_job *job)
{
    struct job_priv *p = sv_priv_of(job);
    if (p == NULL || !p->started_due)
        return;
    p->started_due = 0;
    if (w->ev.started != NULL)
        w->ev.started(w->ev.ctx, job);
}
