/*
 * Daemon logging: one line per call on a file descriptor (stderr in the
 * daemon, a pipe in tests), in the format fixed by docs/DEVELOPMENT.md ("Log levels"):
 *
 *   2026-11-26T09:30:00.123Z weave-compute[1234] INFO listening on PATH
 *
 * The logger is a plain struct passed to whoever logs, so there is no
 * global level to mutate and tests can point it anywhere. Each line goes out
 * in a single write(2), so lines from the worker thread and the event loop
 * never interleave (lines are shorter than PIPE_BUF).
 *
 * Logging never blocks the daemon on a pipe or socket nobody reads: a line
 * that does not fit is dropped, and the next line that gets through is
 * preceded by "WARN N log line(s) dropped: ...". Files and terminals get a
 * plain blocking write (log.c explains why).
 */
#ifndef WEAVE_LOG_H
#define WEAVE_LOG_H

enum weave_log_level {
    WEAVE_LOG_DEBUG = 0,
    WEAVE_LOG_INFO = 1,
    WEAVE_LOG_WARN = 2,
    WEAVE_LOG_ERROR = 3,
};

#define WEAVE_LOG_LINE_MAX 1024 /* longer messages are cut, marked "..." */

/* How a line is written to fd without blocking (chosen by weave_log_init). */
enum weave_log_sink {
    WEAVE_LOG_SINK_WRITE = 0, /* file, terminal, unknown: plain write(2) */
    WEAVE_LOG_SINK_PIPE,      /* pwritev2(RWF_NOWAIT) */
    WEAVE_LOG_SINK_SOCKET,    /* send(MSG_DONTWAIT) */
};

struct weave_log {
    enum weave_log_level level; /* lines below this level are dropped */
    int fd;                     /* where lines go; -1 drops everything */
    long pid;                   /* in every line; cached, no getpid() each */
    enum weave_log_sink sink;
};

/* Call it in the process that logs (the pid is taken now). */
void weave_log_init(struct weave_log *log, enum weave_log_level level, int fd);

/* Parses "debug", "info", "warn", "error" (any case). Returns 0 or -1. */
int weave_log_level_parse(const char *s, enum weave_log_level *out);

/* "DEBUG", "INFO", "WARN", "ERROR". */
const char *weave_log_level_name(enum weave_log_level level);

int weave_log_enabled(const struct weave_log *log, enum weave_log_level level);

void weave_logf(const struct weave_log *log, enum weave_log_level level,
                const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define weave_debug(log, ...) weave_logf((log), WEAVE_LOG_DEBUG, __VA_ARGS__)
#define weave_info(log, ...) weave_logf((log), WEAVE_LOG_INFO, __VA_ARGS__)
#define weave_warn(log, ...) weave_logf((log), WEAVE_LOG_WARN, __VA_ARGS__)
#define weave_error(log, ...) weave_logf((log), WEAVE_LOG_ERROR, __VA_ARGS__)

#endif /* WEAVE_LOG_H */
