/*
 * Helpers shared by the daemon's C unit tests: a tiny check harness that
 * prints "N passed, N failed", short temporary directories under /tmp (a
 * socket path must fit in 108 bytes, so never the long TEST_TMPDIR), client
 * sockets, and a forked daemon (weave_daemon_main in a child process) with
 * its log captured to a file.
 */
#ifndef WEAVE_DAEMON_TESTUTIL_H
#define WEAVE_DAEMON_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "weave/backend.h"
#include "weave/protocol.h"

/* ---- worker mode -------------------------------------------------------- */

struct weave_backend;
/* Defined by a test that wants its own backend in the worker processes
 * its daemons start (weak: the procedural backend otherwise). */
const struct weave_backend *tu_worker_backend(void) __attribute__((weak));

/* ---- harness ---------------------------------------------------------- */

void tu_check(int ok, const char *file, int line, const char *expr);
#define CHECK(cond) tu_check((cond) ? 1 : 0, __FILE__, __LINE__, #cond)
/* Runs one test function, printing its name and PASS/FAIL. */
void tu_run(const char *name, void (*fn)(void));
void tu_skip(const char *name, const char *why);
/* Prints "N passed, N failed" and returns the exit status for main(). */
int tu_summary(void);

/*
 * 1 when this process may act as uid 65534 (root, with 65534 mapped: not
 * the case in every sandbox). Tries it in a child; *why explains a 0.
 */
int tu_can_become_nobody(const char **why);

/* ---- files ------------------------------------------------------------ */

/* mkdtemp under /tmp into buf (>= 32 bytes); aborts the test on failure. */
void tu_tmpdir(char *buf, size_t cap);
/* rm -r of a test directory (best effort). */
void tu_rmtree(const char *path);
/* Reads a whole file (NUL-terminated, malloc'd); NULL if missing. */
char *tu_read_file(const char *path);
/* Number of lines of `text` containing `needle`. */
int tu_count_lines(const char *text, const char *needle);
/* Open descriptors of process pid (0: this process, not counting the one
 * that reads the list), from /proc/PID/fd; -1 if it cannot be read. */
int tu_fd_count(pid_t pid);

/* ---- sockets ---------------------------------------------------------- */

/* Connects to a Unix socket path; blocking fd, or -1. */
int tu_connect(const char *path);
/* Writes all of buf (blocking); 0 or -1. */
int tu_send_all(int fd, const void *buf, size_t len);
/* One sendmsg of len bytes with nfds (at most TU_MAX_FDS) descriptors
 * attached (SCM_RIGHTS). 0 if all len bytes went, else -1. */
#define TU_MAX_FDS 8
int tu_send_fds(int sock, const void *msg, size_t len, const int *fds, int nfds);
/* Reads exactly len bytes with recvmsg, within timeout_ms; descriptors that
 * come along are counted in *nfds, the last kept in *fd (set *fd to -1
 * first; the others are closed). 0, or -1 on EOF, error or timeout. */
int tu_recv_exact_fds(int sock, uint8_t *buf, size_t len, int timeout_ms,
                      int *fd, int *nfds);
/*
 * Reads until EOF or until timeout_ms passes; returns the bytes (malloc'd,
 * *len set) or NULL on timeout. ECONNRESET after data counts as EOF.
 */
uint8_t *tu_recv_all(int fd, int timeout_ms, size_t *len);
/* Decodes a reply with the codec; 0 on success. */
int tu_decode_reply(const uint8_t *buf, size_t len, struct weave_response *out);

/* The SPEC's 118-byte example request (512x512, "a cat in space"). */
size_t tu_example_request(uint8_t *buf, size_t cap, uint64_t request_id,
                          uint32_t width, uint32_t height, uint64_t seed);
size_t tu_status_request(uint8_t *buf, size_t cap, uint64_t request_id);

/* ---- a forked daemon -------------------------------------------------- */

struct tu_daemon {
    pid_t pid;
    char dir[128];   /* XDG_RUNTIME_DIR */
    char sock[256];  /* dir/weave/weave.sock */
    char lock[256];
    char log[256];   /* the child's stderr */
    char out[256];   /* the child's stdout */
    int status;      /* wait status once reaped */
    int reaped;
};

/*
 * Forks a daemon: XDG_RUNTIME_DIR = d->dir (set it first; "" leaves the
 * variable unset), stderr to d->log, then weave_daemon_main(args). `args` is
 * a NULL-terminated list without argv[0]. If before_main is not NULL it runs
 * in the child first (for setrlimit, fd 3 tricks, ...).
 */
void tu_daemon_spawn(struct tu_daemon *d, const char *const *args,
                     void (*before_main)(void *), void *arg);
/* The same with another backend than the procedural one. */
void tu_daemon_spawn_backend(struct tu_daemon *d,
                             const struct weave_backend *backend,
                             const char *const *args,
                             void (*before_main)(void *), void *arg);
/* Waits for "listening on" in the log; 0 when seen, -1 when it exited. */
int tu_daemon_wait_ready(struct tu_daemon *d, int timeout_ms);
/* Waits for the exit; returns the exit code, 128+signal, or -1 on timeout. */
int tu_daemon_wait_exit(struct tu_daemon *d, int timeout_ms);
/* SIGTERM and wait; returns the exit code (or -1; then SIGKILLs it). */
int tu_daemon_stop(struct tu_daemon *d);

/* Zeroes *d and gives it a fresh temporary directory (before spawning). */
void tu_daemon_fresh(struct tu_daemon *d);

/* Stops the daemon if it still runs, removes its log, output and directory. */
void tu_daemon_cleanup(struct tu_daemon *d);
/* The log so far (malloc'd, never NULL). */
char *tu_daemon_log(const struct tu_daemon *d);

/* Sends msg, returns the reply (malloc'd) or NULL; *len set. */
uint8_t *tu_roundtrip(const char *sock, const uint8_t *msg, size_t msglen,
                      int timeout_ms, size_t *len);

uint64_t tu_now_ms(void);

/* Big-endian stores, for tests that build or patch raw messages (the
 * codec's own are internal to it). */
void tu_put_u16(uint8_t *p, uint16_t v);
void tu_put_u32(uint8_t *p, uint32_t v);
void tu_put_u64(uint8_t *p, uint64_t v);

#endif /* WEAVE_DAEMON_TESTUTIL_H */
