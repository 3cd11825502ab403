/* Flag and environment parsing for weave-compute; see config.h. */
#define _GNU_SOURCE
#include "daemon/config.h"
#include "daemon/errbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "weave/protocol.h"

void weave_config_defaults(struct weave_config *cfg)
{
    cfg->action = WEAVE_ACTION_RUN;
    cfg->log_level = WEAVE_LOG_INFO;
    cfg->read_timeout_ms = WEAVE_DEFAULT_READ_TIMEOUT_MS;
    cfg->write_timeout_ms = WEAVE_DEFAULT_WRITE_TIMEOUT_MS;
    cfg->max_connections = WEAVE_DEFAULT_MAX_CONNECTIONS;
    cfg->shutdown_timeout_ms = WEAVE_DEFAULT_SHUTDOWN_TIMEOUT_MS;
    cfg->generation_timeout_ms = WEAVE_DEFAULT_GENERATION_TIMEOUT_MS_CFG;
    cfg->keep_alive_ms = WEAVE_DEFAULT_KEEP_ALIVE_MS_CFG;
    cfg->step_delay_ms = 0;
}

/* Strict decimal: digits only (no sign, space or suffix), within [lo, hi]. */
static int parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
    if (s == NULL || *s == '\0')
        return -1;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
    }
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == NULL || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

struct num_flag {
    const char *name;
    uint32_t lo, hi;
    size_t offset; /* of the uint32_t in struct weave_config */
};

static const struct num_flag num_flags[] = {
    {"--read-timeout-ms", 1, WEAVE_MAX_TIMEOUT_MS,
     offsetof(struct weave_config, read_timeout_ms)},
    {"--write-timeout-ms", 1, WEAVE_MAX_TIMEOUT_MS,
     offsetof(struct weave_config, write_timeout_ms)},
    {"--max-connections", 1, WEAVE_MAX_CONNECTIONS_LIMIT,
     offsetof(struct weave_config, max_connections)},
    {"--shutdown-timeout-ms", 0, WEAVE_MAX_TIMEOUT_MS,
     offsetof(struct weave_config, shutdown_timeout_ms)},
    {"--generation-timeout-ms", 0, WEAVE_MAX_TIMEOUT_MS,
     offsetof(struct weave_config, generation_timeout_ms)},
    {"--step-delay-ms", 0, WEAVE_MAX_STEP_DELAY_MS,
     offsetof(struct weave_config, step_delay_ms)},
};

/*
 * If arg is "--name=value" or "--name" (value then in the next argument),
 * stores the value and returns 1; returns 0 when arg is another flag and -1
 * when the value is missing.
 */
static int flag_value(const char *arg, const char *name, int *i, int argc,
                      char *const argv[], const char **value)
{
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0)
        return 0;
    if (arg[n] == '=') {
        *value = arg + n + 1;
        return 1;
    }
    if (arg[n] != '\0')
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *i += 1;
    *value = argv[*i];
    return 1;
}

static int parse_one(struct weave_config *cfg, int *i, int argc,
                     char *const argv[], int *level_from_flag, char *err,
                     size_t errlen)
{
    const char *arg = argv[*i];
    const char *value = NULL;
    int r;

    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
        cfg->action = WEAVE_ACTION_HELP;
        return 0;
    }
    if (strcmp(arg, "--version") == 0) {
        cfg->action = WEAVE_ACTION_VERSION;
        return 0;
    }
    r = flag_value(arg, "--log-level", i, argc, argv, &value);
    if (r < 0)
        return weave_errf(err, errlen, -1, "option --log-level needs a value");
    if (r > 0) {
        if (weave_log_level_parse(value, &cfg->log_level) != 0)
            return weave_errf(err, errlen, -1,
                              "invalid --log-level '%s' (want debug, info, warn or error)",
                              value);
        *level_from_flag = 1;
        return 0;
    }
    r = flag_value(arg, "--keep-alive-ms", i, argc, argv, &value);
    if (r < 0)
        return weave_errf(err, errlen, -1, "option --keep-alive-ms needs a value");
    if (r > 0) {
        uint32_t v;
        if (value != NULL && strcmp(value, "-1") == 0)
            cfg->keep_alive_ms = -1;
        else if (parse_u32(value, 0, WEAVE_MAX_TIMEOUT_MS, &v) == 0)
            cfg->keep_alive_ms = v;
        else
            return weave_errf(err, errlen, -1, "invalid --keep-alive-ms '%s' (want "
                              "-1 or an integer 0..%u)", value,
                              (unsigned)WEAVE_MAX_TIMEOUT_MS);
        return 0;
    }
    for (size_t k = 0; k < sizeof num_flags / sizeof num_flags[0]; k++) {
        const struct num_flag *f = &num_flags[k];
        r = flag_value(arg, f->name, i, argc, argv, &value);
        if (r < 0)
            return weave_errf(err, errlen, -1, "option %s needs a value", f->name);
        if (r == 0)
            continue;
        uint32_t *dst = (uint32_t *)((char *)cfg + f->offset);
        if (parse_u32(value, f->lo, f->hi, dst) != 0)
            return weave_errf(err, errlen, -1, "invalid %s '%s' (want an integer %u..%u)",
                              f->name, value, (unsigned)f->lo, (unsigned)f->hi);
        return 0;
    }
    if (arg[0] == '-')
        return weave_errf(err, errlen, -1, "unknown option '%s'", arg);
    return weave_errf(err, errlen, -1, "unexpected argument '%s'", arg);
}

int weave_config_parse(struct weave_config *cfg, int argc, char *const argv[],
                       const char *env_log_level, char *err, size_t errlen)
{
    int level_from_flag = 0;

    weave_config_defaults(cfg);
    if (errlen > 0)
        err[0] = '\0';
    for (int i = 1; i < argc; i++) {
        if (parse_one(cfg, &i, argc, argv, &level_from_flag, err, errlen) != 0)
            return -1;
    }
    /* The environment only matters when the flag is absent. */
    if (!level_from_flag && env_log_level != NULL && env_log_level[0] != '\0' &&
        weave_log_level_parse(env_log_level, &cfg->log_level) != 0)
        return weave_errf(err, errlen, -1,
                          "invalid WEAVE_LOG_LEVEL '%s' (want debug, info, warn or error)",
                          env_log_level);
    return 0;
}

void weave_config_version(FILE *out)
{
    fprintf(out, "weave-compute %s (protocol %u..%u)\n", WEAVE_DAEMON_VERSION,
            (unsigned)WEAVE_SERVED_VERSION_MIN, (unsigned)WEAVE_SERVED_VERSION_MAX);
}

void weave_config_usage(FILE *out, const char *backend)
{
    fprintf(out,
"Usage: weave-compute [OPTION]...\n"
"Serve Weave image-generation requests (protocol v1 and v2) on a Unix socket.\n"
"\n"
"Backend: %s.\n"
"The backends and what they draw are specified in docs/BACKEND.md.\n"
"\n"
"Options:\n"
"  --log-level=LEVEL         debug, info, warn or error (default info)\n"
"  --read-timeout-ms=N       time to receive a whole request, counted from\n"
"                            accept (default %u)\n"
"  --write-timeout-ms=N      time to send a whole response (default %u)\n"
"  --max-connections=N       open client connections before new ones get\n"
"                            'server busy' (default %u, max %u)\n"
"  --shutdown-timeout-ms=N   after SIGTERM/SIGINT, time left for the job in\n"
"                            progress and its reply (default %u)\n"
"  --generation-timeout-ms=N watchdog: a job running longer is answered\n"
"                            500/10 and its worker process killed and\n"
"                            replaced (default %u, 0 = off)\n"
"  --keep-alive-ms=N         the worker process (and the backend's memory)\n"
"                            goes away after N ms without a job; the next\n"
"                            job starts it again (default %d; 0 = after\n"
"                            every job, -1 = never)\n"
"  --step-delay-ms=N         testing aid: every generation step takes N ms\n"
"                            more, so a job can be watched, cancelled or\n"
"                            timed out (default 0, max %u)\n"
"  -h, --help                show this help and exit\n"
"  --version                 show the version and exit\n"
"\n"
"Environment:\n"
"  XDG_RUNTIME_DIR   required (unless socket-activated); the socket is\n"
"                    $XDG_RUNTIME_DIR/weave/weave.sock (mode 0600) in a\n"
"                    0700 directory, with the lock file\n"
"                    $XDG_RUNTIME_DIR/weave/weave.lock\n"
"  WEAVE_LOG_LEVEL   same values as --log-level; the flag wins\n"
"  LISTEN_PID, LISTEN_FDS\n"
"                    systemd socket activation: with LISTEN_FDS=1 the\n"
"                    daemon serves the listening socket on fd 3\n"
"\n"
"The backend runs in a separate worker process, started on the first job:\n"
"if it crashes, that job gets 500/9 'backend crashed (SIGNAL)', queued\n"
"jobs run on a fresh worker, and the daemon keeps serving.\n"
"\n"
"Only connections from processes of the daemon's own user are served;\n"
"others are closed without a reply (logged at debug level). Logs go to\n"
"stderr. SIGTERM or SIGINT stop the daemon cleanly.\n"
"\n"
"Exit status:\n"
"  0  clean shutdown (SIGTERM/SIGINT), or --help/--version\n"
"  1  runtime or environment error (XDG_RUNTIME_DIR not set, unsafe socket\n"
"     directory, path too long, ...)\n"
"  2  usage error\n"
"  3  another weave-compute already serves this socket\n",
            backend, (unsigned)WEAVE_DEFAULT_READ_TIMEOUT_MS,
            (unsigned)WEAVE_DEFAULT_WRITE_TIMEOUT_MS,
            (unsigned)WEAVE_DEFAULT_MAX_CONNECTIONS,
            (unsigned)WEAVE_MAX_CONNECTIONS_LIMIT,
            (unsigned)WEAVE_DEFAULT_SHUTDOWN_TIMEOUT_MS,
            (unsigned)WEAVE_DEFAULT_GENERATION_TIMEOUT_MS_CFG,
            (int)WEAVE_DEFAULT_KEEP_ALIVE_MS_CFG, (unsigned)WEAVE_MAX_STEP_DELAY_MS);
}
