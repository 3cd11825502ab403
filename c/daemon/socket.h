/*
 * The listening socket: creating it at $XDG_RUNTIME_DIR/weave/weave.sock
 * (never with a mode looser than 0600, replacing a stale socket left by a
 * killed daemon), adopting a socket-activated one, and removing it again.
 *
 * The caller holds the lock (rundir.h) before calling
 * weave_socket_check_existing() or weave_socket_listen(): the lock is what
 * makes "is it stale?" and "replace it" one step.
 */
#ifndef WEAVE_SOCKET_H
#define WEAVE_SOCKET_H

#include <stddef.h>
#include <sys/types.h>

#include "daemon/log.h"
#include "daemon/rundir.h"

#define WEAVE_LISTEN_BACKLOG 128

struct weave_listener {
    int fd;            /* non-blocking, close-on-exec; -1 once closed */
    int owns_path;     /* we created path and must unlink it at exit */
    dev_t dev;         /* the socket file we created, to unlink only it */
    ino_t ino;
    char path[WEAVE_SUN_PATH_MAX];
};

/*
 * Looks at what is at sock_path now. Returns 0 when nothing is there or it
 * is a stale socket (nobody accepts on it: logged at INFO, it will be
 * replaced), WEAVE_EXIT_ALREADY_RUNNING when something accepts connections
 * on it, WEAVE_EXIT_RUNTIME when it is not a socket (it is left alone) or
 * cannot be examined.
 */
int weave_socket_check_existing(const char *sock_path,
                                const struct weave_log *log, char *err,
                                size_t errlen);

/*
 * Binds a socket under paths->tmp with umask 0177 (so it is 0600 from its
 * first moment), listens, and renames it over paths->sock in one atomic
 * step. Returns 0 or WEAVE_EXIT_RUNTIME.
 */
int weave_socket_listen(struct weave_listener *l, const struct weave_paths *p,
                        char *err, size_t errlen);

/* A listener around an inherited fd (socket activation): never unlinked. */
void weave_socket_adopt(struct weave_listener *l, int fd);

/*
 * Closes the listening fd and unlinks the socket file if it is still the
 * one we created (same st_dev/st_ino). Safe to call twice.
 */
void weave_socket_close(struct weave_listener *l);

#endif /* WEAVE_SOCKET_H */
