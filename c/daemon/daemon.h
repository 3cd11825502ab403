/*
 * weave-compute from argv to exit code: parse the command line, find or
 * create the socket (or adopt a socket-activated one), take the lock, start
 * the backend, run the event loop, clean up. main() is one call to this,
 * with the backend its binary serves (c/daemon/main.c), and the tests fork
 * and call it too.
 */
#ifndef WEAVE_DAEMON_H
#define WEAVE_DAEMON_H

#include "weave/backend.h"

/* Returns the process exit code (exitcodes.h). Messages go to
 * stderr (or stdout for --help and --version). */
int weave_daemon_main(int argc, char *argv[],
                      const struct weave_backend *backend);

#endif /* WEAVE_DAEMON_H */
