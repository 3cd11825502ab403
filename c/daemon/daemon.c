/* Startup and teardown of weave-compute; see daemon.h. */
#define _GNU_SOURCE
#include "daemon/daemon.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/activation.h"
#include "weave/backend.h"
#include "daemon/config.h"
#include "daemon/errbuf.h"
#include "daemon/exitcodes.h"
#include "daemon/log.h"
#include "weave/protocol.h"
#include "daemon/rundir.h"
#include "daemon/server.h"
#include "daemon/socket.h"
#include "daemon/worker.h"

#define ERRLEN 512

/* Descriptors besides connections: stdio, listener, epoll, signalfd,
 * eventfd, reserve, lock, and a few to spare. */
#define FIXED_FDS 16u

static int die(int code, const char *msg)
{
    fprintf(stderr, "weave-compute: %s\n", msg);
    return code;
}

/*
 * Each connection is one fd. Raise the soft limit toward the hard one if
 * --max-connections needs it; warn (do not fail) if it still cannot fit:
 * the EMFILE handling in the loop copes, just less politely.
 */
static void check_fd_limit(const struct weave_config *cfg,
                           const struct weave_log *log)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)cfg->max_connections + FIXED_FDS;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need)
        return;
    rlim_t want = need;
    if (rl.rlim_max != RLIM_INFINITY && want > rl.rlim_max)
        want = rl.rlim_max;
    if (want > rl.rlim_cur) {
        struct rlimit raised = {want, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
            rl.rlim_cur = want;
    }
    if (rl.rlim_cur < need)
        weave_warn(log, "--max-connections=%u needs about %lu file descriptors; "
                   "the limit is %lu", (unsigned)cfg->max_connections,
                   (unsigned long)need, (unsigned long)rl.rlim_cur);
}

/*
 * Big buffers (the 10 MiB request and reply buffers) go back to the kernel
 * when freed. glibc serves them with mmap at first, but after the first
 * free it raises its mmap threshold to that size ("dynamic threshold"), so
 * from then on they come from the heap and stay resident when freed: ~10 MB
 * idle after one large image. Setting the threshold fixes it at 128 KiB
 * (glibc's own starting value) and turns that adjustment off. The price:
 * a large reply is written into fresh pages every time, ~5 ms per 10 MB
 * reply on the bench VM (page faults, then munmap; docs/PERFORMANCE.md),
 * small next to a real model's seconds per image. glibc-specific; another
 * allocator simply keeps its own policy.
 */
static void release_big_buffers(const struct weave_log *log)
{
    /* DEBUG only: nothing to act on, and an allocator that replaces
     * glibc's (ASan's, a preloaded one) says no and has its own policy. */
    if (mallopt(M_MMAP_THRESHOLD, 128 * 1024) != 1)
        weave_debug(log, "mallopt(M_MMAP_THRESHOLD) refused; large buffers "
                    "may stay resident after use");
}

/* The one place signals are set up. SIGTERM/SIGINT are blocked from the
 * start, before any thread exists (so every thread inherits the mask): one
 * arriving during setup waits for the loop's signalfd and shuts the daemon
 * down cleanly as soon as it serves. SIGPIPE is ignored: a client that
 * left is EPIPE, not death. */
static int setup_signals(char *err, size_t errlen)
{
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    int r = pthread_sigmask(SIG_BLOCK, &mask, NULL);
    if (r != 0)
        return weave_errf(err, errlen, -1, "cannot block SIGTERM/SIGINT: %s",
                          strerror(r));
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        return weave_errf(err, errlen, -1, "cannot ignore SIGPIPE: %s",
                          strerror(errno));
    return 0;
}

/* The path of an activated socket, for the "listening on" line. */
static void describe_activated(int fd, char *out, size_t cap)
{
    struct sockaddr_un addr;
    socklen_t len = sizeof addr;

    memset(&addr, 0, sizeof addr);
    if (getsockname(fd, (struct sockaddr *)&addr, &len) == 0 &&
        len > offsetof(struct sockaddr_un, sun_path) && addr.sun_path[0] != '\0') {
        size_t n = len - offsetof(struct sockaddr_un, sun_path);
        if (n > sizeof addr.sun_path)
            n = sizeof addr.sun_path;
        snprintf(out, cap, "%.*s", (int)strnlen(addr.sun_path, n), addr.sun_path);
        return;
    }
    snprintf(out, cap, "socket-activated fd %d", fd);
}

/* Directory, lock, stale check, socket: in that order (socket.h). */
static int own_socket(struct weave_paths *paths, struct weave_lock *lock,
                      struct weave_listener *l, const struct weave_log *log)
{
    char err[ERRLEN];
    int rc;

    rc = weave_paths_init(paths, getenv("XDG_RUNTIME_DIR"), err, sizeof err);
    if (rc == 0)
        rc = weave_rundir_prepare(paths->dir, err, sizeof err);
    if (rc != 0)
        return die(rc, err);
    rc = weave_lock_acquire(lock, paths->lock, err, sizeof err);
    if (rc != 0)
        return die(rc, err);
    rc = weave_socket_check_existing(paths->sock, log, err, sizeof err);
    if (rc == 0)
        rc = weave_socket_listen(l, paths, err, sizeof err);
    if (rc != 0) {
        /* Leave the lock file: deleting it would let a second daemon lock
         * a fresh file while a third still holds this one. */
        weave_lock_release(lock, NULL);
        return die(rc, err);
    }
    return 0;
}

static int serve(const struct weave_config *cfg, const struct weave_log *log,
                 const struct weave_backend *backend, struct weave_listener *l,
                 const char *name)
{

    weave_info(log, "weave-compute %s (protocol %u..%u), pid %ld, uid %lu",
               WEAVE_DAEMON_VERSION, (unsigned)WEAVE_SERVED_VERSION_MIN,
               (unsigned)WEAVE_SERVED_VERSION_MAX, (long)getpid(),
               (unsigned long)geteuid());
    weave_info(log, "backend: %s", backend->description);
    /* The backend is initialised in the worker process, on the first job. */
    weave_debug(log, "backend %s runs in a worker process, started on the "
                "first job", backend->name);
    check_fd_limit(cfg, log);

    struct weave_server_params params = {
        .cfg = cfg,
        .log = log,
        .backend = backend,
        .backend_state = NULL,
        .listener = l,
        .listen_name = name,
    };
    int busy = 0;
    return weave_server_run(&params, &busy);
}

int weave_daemon_main(int argc, char *argv[],
                      const struct weave_backend *backend)
{
    struct weave_config cfg;
    char err[ERRLEN];

    /* The worker process: this binary again, with a hidden argv. */
    if (weave_worker_child_requested(argc, argv))
        return weave_worker_child_main(argc, argv, backend);
    if (weave_config_parse(&cfg, argc, argv, getenv("WEAVE_LOG_LEVEL"), err,
                           sizeof err) != 0) {
        fprintf(stderr, "weave-compute: %s\n\n", err);
        weave_config_usage(stderr, backend->description);
        return WEAVE_EXIT_USAGE;
    }
    if (cfg.action == WEAVE_ACTION_HELP) {
        weave_config_usage(stdout, backend->description);
        return fflush(stdout) == 0 ? WEAVE_EXIT_OK : WEAVE_EXIT_RUNTIME;
    }
    if (cfg.action == WEAVE_ACTION_VERSION) {
        weave_config_version(stdout);
        return fflush(stdout) == 0 ? WEAVE_EXIT_OK : WEAVE_EXIT_RUNTIME;
    }

    struct weave_log log;
    weave_log_init(&log, cfg.log_level, STDERR_FILENO);
    if (setup_signals(err, sizeof err) != 0)
        return die(WEAVE_EXIT_RUNTIME, err);
    release_big_buffers(&log);

    struct weave_listener listener;
    struct weave_lock lock = {.fd = -1};
    struct weave_paths paths;
    char name[WEAVE_SUN_PATH_MAX + 32];
    int fd;

    int act = weave_activation_detect(&fd, err, sizeof err);
    if (act < 0)
        return die(WEAVE_EXIT_RUNTIME, err);
    if (act > 0) {
        /* systemd owns the socket file: no directory, lock or unlink. */
        weave_info(&log, "using socket-activated listener (fd %d)", fd);
        weave_socket_adopt(&listener, fd);
        describe_activated(fd, name, sizeof name);
    } else {
        int rc = own_socket(&paths, &lock, &listener, &log);
        if (rc != 0)
            return rc;
        snprintf(name, sizeof name, "%s", paths.sock);
    }

    int rc = serve(&cfg, &log, backend, &listener, name);
    weave_socket_close(&listener); /* done already unless the loop failed */
    weave_lock_release(&lock, act > 0 ? NULL : paths.lock);
    weave_info(&log, "stopped");
    return rc;
}
