/* The single generation thread; see worker.h. */
#define _GNU_SOURCE
#include "daemon/worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "daemon/clock.h"

struct job_list {
    struct weave_job *head, *tail;
    uint32_t count;
};

struct weave_worker {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job_list pending; /* guarded by mu */
    struct job_list done;    /* guarded by mu */
    int stop;                  /* guarded by mu */
    int efd;
    const struct weave_backend *backend;
    void *backend_state;
    const struct weave_log *log;
};

static void list_push(struct job_list *l, struct weave_job *job)
{
    job->next = NULL;
    if (l->tail != NULL)
        l->tail->next = job;
    else
        l->head = job;
    l->tail = job;
    l->count++;
}

static struct weave_job *list_pop(struct job_list *l)
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

/* Detaches the whole list, keeping its links. */
static struct weave_job *list_take_all(struct job_list *l)
{
    struct weave_job *head = l->head;
    l->head = l->tail = NULL;
    l->count = 0;
    return head;
}

static int list_remove(struct job_list *l, struct weave_job *job)
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

void weave_job_free(struct weave_job *job)
{
    if (job == NULL)
        return;
    free(job->msg);
    free(job->reply);
    free(job);
}

static void free_list(struct weave_job *j)
{
    while (j != NULL) {
        struct weave_job *next = j->next;
        weave_job_free(j);
        j = next;
    }
}

/* splitmix64's finaliser: spreads the clock's low bits over the word. */
static uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

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
        uint64_t s = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        s ^= (uint64_t)getpid() << 32;
        seed = mix64(s);
        weave_debug(log, "getrandom unavailable (%s); seed from the clock",
                    n < 0 ? strerror(errno) : "short read");
    }
    return seed != 0 ? seed : 1;
}

/* The hooks of the in-process worker: nothing listens to steps yet, and
 * nothing stops a generation once it started. */
static void ignore_step(void *ctx, uint32_t step, uint32_t steps)
{
    (void)ctx;
    (void)step;
    (void)steps;
}

static int never_stop(void *ctx)
{
    (void)ctx;
    return 0;
}

static const struct weave_gen_hooks no_hooks = {
    .ctx = NULL,
    .step = ignore_step,
    .should_stop = never_stop,
};

static void run_job(struct weave_worker *w, struct weave_job *job)
{
    const struct weave_generate_request *req = &job->req;
    uint64_t id = req->request_id;

    job->seed = req->seed != 0 ? req->seed : pick_seed(w->log);
    size_t size = weave_generate_response_size(req->width, req->height,
                                               WEAVE_DAEMON_CHANNELS);
    if (size == 0) { /* the decoder already refused such sizes */
        weave_error_set(&job->err, id, WEAVE_ERR_INTERNAL,
                        "reply for %ux%u does not fit in a message",
                        (unsigned)req->width, (unsigned)req->height);
        return;
    }
    uint8_t *buf = malloc(size);
    if (buf == NULL) {
        weave_error_set(&job->err, id, WEAVE_ERR_OUT_OF_MEMORY,
                        "out of memory: cannot allocate the %zu-byte reply", size);
        return;
    }
    uint32_t image_len = req->width * req->height * WEAVE_DAEMON_CHANNELS;
    struct weave_gen_params params = {
        .width = req->width,
        .height = req->height,
        .steps = req->steps,
        .seed = job->seed,
        .clip_l = req->clip_l,
        .clip_g = req->clip_g,
        .t5 = req->t5,
    };
    memcpy(&params.cfg_bits, &req->cfg_scale, sizeof params.cfg_bits);

    /* Render straight into the reply, after its header and fixed fields. */
    uint8_t *pixels = buf + WEAVE_HEADER_SIZE + WEAVE_RESPONSE_FIXED_SIZE;
    uint64_t t0 = weave_now_ms();
    int r = w->backend->generate(w->backend_state, &params, &no_hooks, pixels,
                                 image_len, &job->err);
    uint64_t elapsed = weave_now_ms() - t0;
    if (r != 0) {
        if (weave_gen_cancelled(&job->err)) /* no_hooks never asks for it */
            weave_error_set(&job->err, id, WEAVE_ERR_INTERNAL,
                            "backend %s stopped without being asked",
                            w->backend->name);
        job->err.request_id = id;
        free(buf);
        return;
    }
    job->generation_ms = elapsed > UINT32_MAX ? UINT32_MAX : (uint32_t)elapsed;

    struct weave_generate_response resp = {
        .request_id = id,
        .status = WEAVE_STATUS_OK,
        .generation_time_ms = job->generation_ms,
        .width = req->width,
        .height = req->height,
        .channels = WEAVE_DAEMON_CHANNELS,
        .image = {NULL, image_len}, /* pixels are already in place */
        .has_seed = 1,
        .seed = job->seed,
    };
    size_t n = weave_encode_generate_response(buf, size, job->version, &resp);
    if (n != size) {
        weave_error_set(&job->err, id, WEAVE_ERR_INTERNAL,
                        "cannot encode the %ux%u reply", (unsigned)req->width,
                        (unsigned)req->height);
        free(buf);
        return;
    }
    job->reply = buf;
    job->reply_len = n;
}

static void notify_loop(struct weave_worker *w)
{
    uint64_t one = 1;
    /* Fails only if the counter would overflow 2^64-2: cannot happen, and
     * the loop would still find the job on its next wakeup. */
    while (write(w->efd, &one, sizeof one) < 0 && errno == EINTR)
        ;
}

static void *worker_main(void *arg)
{
    struct weave_worker *w = arg;

    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->stop && w->pending.head == NULL)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->stop)
            break;
        struct weave_job *job = list_pop(&w->pending);
        pthread_mutex_unlock(&w->mu);

        run_job(w, job);

        pthread_mutex_lock(&w->mu);
        list_push(&w->done, job);
        pthread_mutex_unlock(&w->mu);
        notify_loop(w);
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int weave_worker_start(struct weave_worker **out,
                       const struct weave_backend *backend, void *backend_state,
                       const struct weave_log *log, char *err, size_t errlen)
{
    *out = NULL;
    struct weave_worker *w = calloc(1, sizeof *w);
    if (w == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    w->backend = backend;
    w->backend_state = backend_state;
    w->log = log;
    w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->efd < 0) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        free(w);
        return -1;
    }
    int r = pthread_mutex_init(&w->mu, NULL);
    if (r == 0) {
        r = pthread_cond_init(&w->cv, NULL);
        if (r != 0)
            pthread_mutex_destroy(&w->mu);
    }
    if (r != 0) {
        snprintf(err, errlen, "pthread init: %s", strerror(r));
        close(w->efd);
        free(w);
        return -1;
    }
    r = pthread_create(&w->thread, NULL, worker_main, w);
    if (r != 0) {
        snprintf(err, errlen, "cannot start the worker thread: %s", strerror(r));
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        close(w->efd);
        free(w);
        return -1;
    }
    *out = w;
    return 0;
}

int weave_worker_event_fd(const struct weave_worker *w)
{
    return w->efd;
}

void weave_worker_submit(struct weave_worker *w, struct weave_job *job)
{
    pthread_mutex_lock(&w->mu);
    list_push(&w->pending, job);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

struct weave_job *weave_worker_take_done(struct weave_worker *w)
{
    uint64_t count;
    /* EAGAIN (counter already 0) is fine: the list is the truth. */
    while (read(w->efd, &count, sizeof count) < 0 && errno == EINTR)
        ;
    pthread_mutex_lock(&w->mu);
    struct weave_job *head = list_take_all(&w->done);
    pthread_mutex_unlock(&w->mu);
    return head;
}

struct weave_job *weave_worker_take_pending(struct weave_worker *w)
{
    pthread_mutex_lock(&w->mu);
    struct weave_job *head = list_take_all(&w->pending);
    pthread_mutex_unlock(&w->mu);
    return head;
}

int weave_worker_cancel(struct weave_worker *w, struct weave_job *job)
{
    pthread_mutex_lock(&w->mu);
    int removed = list_remove(&w->pending, job);
    pthread_mutex_unlock(&w->mu);
    return removed;
}

uint32_t weave_worker_queue_depth(struct weave_worker *w)
{
    pthread_mutex_lock(&w->mu);
    uint32_t n = w->pending.count;
    pthread_mutex_unlock(&w->mu);
    return n;
}

int weave_worker_stop(struct weave_worker *w, uint32_t wait_ms)
{
    if (w == NULL)
        return 0;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);

    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until); /* pthread_timedjoin_np's clock */
    until.tv_sec += wait_ms / 1000u;
    until.tv_nsec += (long)(wait_ms % 1000u) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec += 1;
        until.tv_nsec -= 1000000000L;
    }
    int r;
    do {
        r = pthread_timedjoin_np(w->thread, NULL, &until);
    } while (r == EINTR);
    if (r != 0)
        return -1; /* still generating: leave it, the process exits */

    free_list(list_take_all(&w->pending));
    free_list(list_take_all(&w->done));
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    close(w->efd);
    free(w);
    return 0;
}
