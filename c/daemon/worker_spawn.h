/*
 * Private to the worker supervisor (supervisor.c): fork + exec of the
 * worker process, and the words for how it ended.
 */
#ifndef WEAVE_WORKER_SPAWN_H
#define WEAVE_WORKER_SPAWN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ws_args {
    const char *exe;       /* path to exec (/proc/self/exe) */
    const char *argv0;
    uint32_t step_delay_ms;
    const char *log_level; /* "debug", ... */
    const char *backend;   /* the backend's name, checked by the worker */
};

struct ws_proc {
    pid_t pid;
    int sock;  /* our end of the socketpair: non-blocking, CLOEXEC */
    int pidfd; /* readable once the process ended; -1 if unsupported */
};

/*
 * Starts the worker: in the child the signal mask is emptied and every
 * disposition reset, it gets its own process group, PR_SET_PDEATHSIG(SIGKILL)
 * is set and the parent checked,
 * stdin/stdout become /dev/null, stderr is kept only if it was inherited,
 * the socket is fd 3 and every other descriptor is closed before exec.
 * Returns 0, or -1 with err set (nothing left behind).
 */
int ws_spawn(const struct ws_args *a, struct ws_proc *p, char *err, size_t errlen);

/* pidfd_open(2), CLOEXEC; -1 when the kernel lacks it. */
int ws_pidfd_open(pid_t pid);

/* "backend crashed (SIGSEGV)", "backend exited with status 3". */
void ws_describe_exit(int status, char *out, size_t cap);

/* "SIGSEGV", or "signal N" written into buf. */
const char *ws_signal_name(int signo, char *buf, size_t cap);

#endif /* WEAVE_WORKER_SPAWN_H */
