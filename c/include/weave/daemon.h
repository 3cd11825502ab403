/*
 * weave-compute from argv to exit code: parse the command line, find or
 * create the socket (or adopt a socket-activated one), take the lock, start
 * the backend, run the event loop, clean up. main() is one call to this,
 * and the tests fork and call it too.
 */
#ifndef WEAVE_DAEMON_H
#define WEAVE_DAEMON_H

/* Returns the process exit code (weave/exitcodes.h). Messages go to
 * stderr (or stdout for --help and --version). */
int weave_daemon_main(int argc, char *argv[]);

#endif /* WEAVE_DAEMON_H */
