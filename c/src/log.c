/* Log lines in the CONTRACTS.md format; see weave/log.h. */
#define _GNU_SOURCE
#include "weave/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void weave_log_init(struct weave_log *log, enum weave_log_level level, int fd)
{
    log->level = level;
    log->fd = fd;
}

int weave_log_level_parse(const char *s, enum weave_log_level *out)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};

    if (s == NULL)
        return -1;
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, names[i]) == 0) {
            *out = (enum weave_log_level)i;
            return 0;
        }
    }
    return -1;
}

const char *weave_log_level_name(enum weave_log_level level)
{
    if ((int)level < 0 || (int)level > 3)
        return "?";
    return level_names[level];
}

int weave_log_enabled(const struct weave_log *log, enum weave_log_level level)
{
    return log->fd >= 0 && level >= log->level;
}

/* "2026-11-26T09:30:00.123Z" into buf; returns its length. The buffer is
 * sized for any int fields, which keeps gcc's truncation check quiet. */
static int format_time(char *buf, size_t cap)
{
    struct timespec ts;
    struct tm tm;

    if (clock_gettime(CLOCK_REALTIME, &ts) != 0 ||
        gmtime_r(&ts.tv_sec, &tm) == NULL)
        return snprintf(buf, cap, "0000-00-00T00:00:00.000Z");
    int ms = (int)(ts.tv_nsec / 1000000L);
    return snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                    tm.tm_min, tm.tm_sec, ms);
}

/* One write for the whole line; a short write to a pipe is finished off, a
 * failing stderr is ignored (there is nowhere left to report it). */
static void write_line(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        buf += n;
        len -= (size_t)n;
    }
}

void weave_logf(const struct weave_log *log, enum weave_log_level level,
                const char *fmt, ...)
{
    char line[WEAVE_LOG_LINE_MAX];
    int saved_errno = errno; /* callers log, then look at errno again */

    if (!weave_log_enabled(log, level))
        return;

    char ts[96];
    format_time(ts, sizeof ts);
    int head = snprintf(line, sizeof line, "%s weave-compute[%ld] %s ", ts,
                        (long)getpid(), weave_log_level_name(level));
    if (head < 0 || (size_t)head >= sizeof line) {
        errno = saved_errno;
        return;
    }

    va_list ap;
    va_start(ap, fmt);
    int body = vsnprintf(line + head, sizeof line - (size_t)head, fmt, ap);
    va_end(ap);
    if (body < 0)
        body = 0;

    size_t len = (size_t)head + (size_t)body;
    if (len > sizeof line - 2) {
        /* Cut: keep room for "...\n" so a reader sees it was cut. */
        len = sizeof line - 5;
        line[len++] = '.';
        line[len++] = '.';
        line[len++] = '.';
    }
    /* A newline inside a message would forge a second log line. */
    for (size_t i = (size_t)head; i < len; i++) {
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    }
    line[len++] = '\n';
    write_line(log->fd, line, len);
    errno = saved_errno;
}
