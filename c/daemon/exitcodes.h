/* Exit codes of weave-compute (docs/DEVELOPMENT.md). Setup functions return
 * one of these directly, so main() never has to translate. */
#ifndef WEAVE_EXITCODES_H
#define WEAVE_EXITCODES_H

enum weave_exit {
    WEAVE_EXIT_OK = 0,              /* clean shutdown, --help, --version */
    WEAVE_EXIT_RUNTIME = 1,         /* environment or runtime error */
    WEAVE_EXIT_USAGE = 2,           /* bad command line or WEAVE_LOG_LEVEL */
    WEAVE_EXIT_ALREADY_RUNNING = 3, /* another daemon serves this socket */
};

#endif /* WEAVE_EXITCODES_H */
