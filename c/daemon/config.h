/*
 * Command line and environment of weave-compute (docs/DEVELOPMENT.md):
 *
 *   weave-compute [--log-level=debug|info|warn|error] [--read-timeout-ms=N]
 *                 [--write-timeout-ms=N] [--max-connections=N]
 *                 [--shutdown-timeout-ms=N] [--generation-timeout-ms=N]
 *                 [--keep-alive-ms=N] [--step-delay-ms=N] [--help] [--version]
 *
 * Parsing is a pure function of argv and the WEAVE_LOG_LEVEL value, so the
 * tests need neither a process nor setenv().
 */
#ifndef WEAVE_CONFIG_H
#define WEAVE_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "daemon/exitcodes.h"
#include "daemon/log.h"
#include "weave/protocol.h"

#define WEAVE_DAEMON_VERSION "0.1.0"

/* The protocol versions the daemon serves: 1, and 2 (SPEC section 11).
 * The codec's WEAVE_VERSION_MIN..MAX stay the version-1 decoder's. */
#define WEAVE_SERVED_VERSION_MIN 1
#define WEAVE_SERVED_VERSION_MAX 2
/* The 0x0005 flag bits honoured (the status reply's `features`). */
#define WEAVE_SERVED_FLAGS (WEAVE_FLAG_PROGRESS | WEAVE_FLAG_SHM)

#define WEAVE_DEFAULT_READ_TIMEOUT_MS 60000u
#define WEAVE_DEFAULT_WRITE_TIMEOUT_MS 5000u
#define WEAVE_DEFAULT_MAX_CONNECTIONS 64u
#define WEAVE_DEFAULT_SHUTDOWN_TIMEOUT_MS 2000u
#define WEAVE_DEFAULT_GENERATION_TIMEOUT_MS_CFG 600000u /* 10 minutes */
#define WEAVE_DEFAULT_KEEP_ALIVE_MS_CFG 300000          /* 5 minutes */
#define WEAVE_MAX_STEP_DELAY_MS 60000u

/* Bounds for the numeric flags (inclusive). */
#define WEAVE_MAX_TIMEOUT_MS 86400000u  /* one day */
#define WEAVE_MAX_CONNECTIONS_LIMIT 65536u

enum weave_config_action {
    WEAVE_ACTION_RUN = 0,
    WEAVE_ACTION_HELP,
    WEAVE_ACTION_VERSION,
};

struct weave_config {
    enum weave_config_action action;
    enum weave_log_level log_level;
    uint32_t read_timeout_ms;     /* whole request, from accept */
    uint32_t write_timeout_ms;    /* whole response, from when it is ready */
    uint32_t max_connections;     /* open client connections */
    uint32_t shutdown_timeout_ms; /* in-flight work after SIGTERM/SIGINT */
    uint32_t generation_timeout_ms; /* watchdog per job; 0 = off */
    int64_t keep_alive_ms;        /* idle worker exits after; 0 = after each
                                     job, -1 = never */
    uint32_t step_delay_ms;       /* testing aid: every step takes this long */
};

void weave_config_defaults(struct weave_config *cfg);

/*
 * Parses argv (argv[0] is skipped) over the defaults; env_log_level is the
 * value of WEAVE_LOG_LEVEL or NULL (an empty value counts as unset). The
 * flag wins over the environment. Returns 0, or -1 with a one-line reason
 * in err (a usage error: exit 2).
 */
int weave_config_parse(struct weave_config *cfg, int argc, char *const argv[],
                       const char *env_log_level, char *err, size_t errlen);

/* --help; backend is the served backend's description (backend.h). */
void weave_config_usage(FILE *out, const char *backend);
void weave_config_version(FILE *out);

#endif /* WEAVE_CONFIG_H */
