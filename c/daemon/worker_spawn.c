/*
 * Starting the worker process and reading how it ended; see
 * worker_spawn.h. fork + exec of the same binary in worker mode: between
 * fork and exec the child only makes async-signal-safe system calls.
 */
#define _GNU_SOURCE
#include "worker_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

/* Where the socketpair end sits in the worker (argv says so, too). */
#define WORKER_SOCK_FD 3
/* Above stdio and 3, while the child rearranges its descriptors. */
#define PARK_FD 10

static const struct {
    int signo;
    const char *name;
} signal_names[] = {
    {SIGSEGV, "SIGSEGV"}, {SIGABRT, "SIGABRT"}, {SIGKILL, "SIGKILL"},
    {SIGBUS, "SIGBUS"},   {SIGFPE, "SIGFPE"},   {SIGILL, "SIGILL"},
    {SIGTERM, "SIGTERM"}, {SIGINT, "SIGINT"},   {SIGQUIT, "SIGQUIT"},
    {SIGHUP, "SIGHUP"},   {SIGTRAP, "SIGTRAP"}, {SIGSYS, "SIGSYS"},
    {SIGPIPE, "SIGPIPE"}, {SIGXCPU, "SIGXCPU"}, {SIGXFSZ, "SIGXFSZ"},
    {SIGALRM, "SIGALRM"}, {SIGUSR1, "SIGUSR1"}, {SIGUSR2, "SIGUSR2"},
};

const char *ws_signal_name(int signo, char *buf, size_t cap)
{
    for (size_t i = 0; i < sizeof signal_names / sizeof signal_names[0]; i++) {
        if (signal_names[i].signo == signo)
            return signal_names[i].name;
    }
    snprintf(buf, cap, "signal %d", signo);
    return buf;
}

void ws_describe_exit(int status, char *out, size_t cap)
{
    char tmp[32];
    if (WIFSIGNALED(status))
        snprintf(out, cap, "backend crashed (%s%s)",
                 ws_signal_name(WTERMSIG(status), tmp, sizeof tmp),
                 WCOREDUMP(status) ? ", core dumped" : "");
    else if (WIFEXITED(status))
        snprintf(out, cap, "backend exited with status %d", WEXITSTATUS(status));
    else
        snprintf(out, cap, "backend ended (wait status 0x%x)", (unsigned)status);
}

int ws_pidfd_open(pid_t pid)
{
    long fd = syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0)
        return -1;
    int flags = fcntl((int)fd, F_GETFD);
    if (flags >= 0)
        fcntl((int)fd, F_SETFD, flags | FD_CLOEXEC);
    return (int)fd;
}

/* Replaces fd (0, 1 or 2) with /dev/null. */
static void null_fd(int fd)
{
    int n = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (n >= 0 && n != fd) {
        dup2(n, fd); /* dup2 clears CLOEXEC on fd */
        close(n);
    } else if (n == fd) {
        fcntl(fd, F_SETFD, 0);
    }
}

/* In the child, between fork and exec: async-signal-safe calls only. */
static void __attribute__((noreturn))
child_exec(int sock, pid_t parent, const char *exe, char *const argv[])
{
    /* The daemon blocks SIGTERM/SIGINT and ignores SIGPIPE: a fresh
     * process gets neither (exec keeps the mask and ignored signals). */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &dfl, NULL); /* EINVAL for reserved ones: fine */
    }
    /* Its own process group: a terminal's Ctrl-C (SIGINT to the foreground
     * group) reaches the daemon, which then stops the worker itself,
     * instead of killing the job under it. */
    setpgid(0, 0);
    /* Die with the daemon, and notice if it died before we asked. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
        _exit(1);

    int parked = fcntl(sock, F_DUPFD_CLOEXEC, PARK_FD);
    if (parked < 0)
        _exit(126);
    null_fd(0);
    null_fd(1);
    /* stderr carries the daemon's log; keep it only if it is a real,
     * inherited stderr: every descriptor the daemon opens itself is
     * CLOEXEC, so one that is (or none at all) is not ours to pass on. */
    int fl = fcntl(2, F_GETFD);
    if (fl < 0 || (fl & FD_CLOEXEC))
        null_fd(2);
    if (dup2(parked, WORKER_SOCK_FD) < 0)
        _exit(126);
    /* Everything above 3 goes (listener, connections, lock, epoll, ...),
     * even a descriptor someone forgot to open CLOEXEC. */
    if (syscall(SYS_close_range, WORKER_SOCK_FD + 1, ~0u, 0) != 0) {
        for (int fd = WORKER_SOCK_FD + 1; fd < 65536; fd++)
            close(fd);
    }
    execv(exe, argv);
    _exit(127);
}

int ws_spawn(const struct ws_args *a, struct ws_proc *p, char *err, size_t errlen)
{
    int sv[2];
    char fd_arg[32], ppid_arg[48], delay_arg[48], level_arg[48], backend_arg[96];
    pid_t parent = getpid();

    p->pid = 0;
    p->sock = p->pidfd = -1;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        snprintf(err, errlen, "socketpair: %s", strerror(errno));
        return -1;
    }
    snprintf(fd_arg, sizeof fd_arg, "--worker-fd=%d", WORKER_SOCK_FD);
    snprintf(ppid_arg, sizeof ppid_arg, "--worker-ppid=%ld", (long)parent);
    snprintf(delay_arg, sizeof delay_arg, "--step-delay-ms=%u",
             (unsigned)a->step_delay_ms);
    snprintf(level_arg, sizeof level_arg, "--log-level=%s", a->log_level);
    snprintf(backend_arg, sizeof backend_arg, "--worker-backend=%s", a->backend);
    char *argv[] = {(char *)a->argv0, fd_arg, ppid_arg, delay_arg, level_arg,
                    backend_arg, NULL};

    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    if (pid == 0) {
        close(sv[0]);
        child_exec(sv[1], parent, a->exe, argv);
    }
    close(sv[1]);
    int fl = fcntl(sv[0], F_GETFL);
    if (fl < 0 || fcntl(sv[0], F_SETFL, fl | O_NONBLOCK) != 0) {
        snprintf(err, errlen, "fcntl: %s", strerror(errno));
        close(sv[0]);
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        return -1;
    }
    p->pid = pid;
    p->sock = sv[0];
    p->pidfd = ws_pidfd_open(pid); /* -1: the caller polls waitpid instead */
    return 0;
}
