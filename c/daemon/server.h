/*
 * The event loop: one thread, epoll, non-blocking sockets. It accepts and
 * authenticates connections, reads requests (each against its own read
 * deadline), answers status requests itself, hands generate requests to the
 * worker thread, writes replies (each against its write deadline), and on
 * SIGTERM/SIGINT shuts down within the shutdown timeout.
 */
#ifndef WEAVE_SERVER_H
#define WEAVE_SERVER_H

#include "weave/backend.h"
#include "daemon/config.h"
#include "daemon/log.h"
#include "daemon/socket.h"

struct weave_server_params {
    const struct weave_config *cfg;
    const struct weave_log *log;
    const struct weave_backend *backend;
    void *backend_state;           /* from backend->init() */
    struct weave_listener *listener; /* listening and non-blocking; closed
                                        (and its path unlinked) at shutdown */
    const char *listen_name;       /* for the "listening on" line */
};

/*
 * Serves until SIGTERM or SIGINT arrives (through a signalfd). The caller
 * has blocked both in every thread and ignores SIGPIPE (daemon.c does, first
 * thing). Returns an exit code:
 * WEAVE_EXIT_OK after a clean shutdown, WEAVE_EXIT_RUNTIME when the loop
 * could not be set up or failed. *backend_busy is set to 1 when a generate
 * call was still running at exit (the worker was abandoned): the caller
 * must then not shut the backend down under it.
 */
int weave_server_run(const struct weave_server_params *p, int *backend_busy);

#endif /* WEAVE_SERVER_H */
