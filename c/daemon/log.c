/* Log lines in the docs/DEVELOPMENT.md format; see log.h. */
#define _GNU_SOURCE
#include "daemon/log.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "daemon/clock.h"

static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

/* Lines dropped because the log fd was full, not reported yet. One counter
 * for the process: the daemon has one stderr, and both threads log to it. */
static atomic_ulong dropped_lines;

/*
 * How to write without blocking. Not O_NONBLOCK: stderr is inherited, and
 * that flag belongs to the open file description, shared with whoever
 * started us (a shell, systemd, a test harness), whose own writes would
 * then fail with EAGAIN. Per-call flags leave the description alone:
 * send(MSG_DONTWAIT) on a socket (systemd's journal stream), and
 * pwritev2(RWF_NOWAIT) on a pipe (kernels without it for pipes answer
 * EOPNOTSUPP: then a plain write). Files and terminals get a plain write: a
 * file does not fill up because nobody reads it, and RWF_NOWAIT on a file
 * fails for reasons that have nothing to do with a reader.
 */
static enum weave_log_sink sink_of(int fd)
{
    struct stat st;

    if (fd < 0 || fstat(fd, &st) != 0)
        return WEAVE_LOG_SINK_WRITE;
    if (S_ISSOCK(st.st_mode))
        return WEAVE_LOG_SINK_SOCKET;
    if (S_ISFIFO(st.st_mode))
        return WEAVE_LOG_SINK_PIPE;
    return WEAVE_LOG_SINK_WRITE;
}

void weave_log_init(struct weave_log *log, enum weave_log_level level, int fd)
{
    log->level = level;
    log->fd = fd;
    /* glibc does not cache getpid(): a syscall per line otherwise. */
    log->pid = (long)getpid();
    log->sink = sink_of(fd);
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

static ssize_t write_once(const struct weave_log *log, const char *buf,
                          size_t len)
{
    if (log->sink == WEAVE_LOG_SINK_SOCKET)
        return send(log->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (log->sink == WEAVE_LOG_SINK_PIPE) {
        struct iovec iov = {(void *)buf, len};
        ssize_t n = pwritev2(log->fd, &iov, 1, -1, RWF_NOWAIT);
        if (n >= 0 || errno != EOPNOTSUPP)
            return n;
    }
    return write(log->fd, buf, len);
}

/* How long a line cut short by a full socket may wait for room before its
 * rest is given up (the loop must not stall on a reader that stopped). */
#define FINISH_WAIT_MS 100

/* Set when a line's end was given up: the next line starts on a new one. */
static atomic_int torn_line;

/* Writes the rest of a line the socket took part of: non-blocking writes,
 * waiting for room at most FINISH_WAIT_MS in all. 0 when done. */
static int finish_line(const struct weave_log *log, const char *buf, size_t len)
{
    uint64_t deadline = weave_now_ms() + FINISH_WAIT_MS;

    while (len > 0) {
        ssize_t n = write_once(log, buf, len);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            return 0; /* a failing fd: nowhere to report it */
        uint64_t now = weave_now_ms();
        if (now >= deadline)
            return -1;
        struct pollfd p = {.fd = log->fd, .events = POLLOUT};
        if (poll(&p, 1, (int)(deadline - now)) < 0 && errno != EINTR)
            return 0;
    }
    return 0;
}

/*
 * One write for the whole line. Returns -1 when it was dropped because the
 * fd would block, else 0 (a failing fd is ignored: there is nowhere left to
 * report it). A line is shorter than PIPE_BUF, so a pipe takes all of it or
 * none; if a socket takes part of it, the rest is finished off without
 * blocking the loop for more than FINISH_WAIT_MS, or given up: then the
 * next line begins with a newline instead of being glued to half of this.
 */
static int write_line(const struct weave_log *log, const char *buf, size_t len)
{
    ssize_t n;

    if (atomic_exchange(&torn_line, 0)) {
        do {
            n = write_once(log, "\n", 1);
        } while (n < 0 && errno == EINTR);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            atomic_store(&torn_line, 1);
            return -1;
        }
    }
    do {
        n = write_once(log, buf, len);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? -1 : 0;
    if ((size_t)n < len && finish_line(log, buf + n, len - (size_t)n) != 0)
        atomic_store(&torn_line, 1);
    return 0;
}

/* Formats one whole line into line[WEAVE_LOG_LINE_MAX]; returns its length
 * (newline included), or 0 if not even the prefix fits. */
static size_t vformat_line(const struct weave_log *log,
                           enum weave_log_level level, char *line,
                           const char *fmt, va_list ap)
{
    const size_t cap = WEAVE_LOG_LINE_MAX;
    char ts[96];

    format_time(ts, sizeof ts);
    int head = snprintf(line, cap, "%s weave-compute[%ld] %s ", ts, log->pid,
                        weave_log_level_name(level));
    if (head < 0 || (size_t)head >= cap)
        return 0;
    int body = vsnprintf(line + head, cap - (size_t)head, fmt, ap);
    if (body < 0)
        body = 0;

    size_t len = (size_t)head + (size_t)body;
    if (len > cap - 2) {
        /* Cut: keep room for "...\n" so a reader sees it was cut. */
        len = cap - 5;
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
    return len;
}

static size_t format_line(const struct weave_log *log,
                          enum weave_log_level level, char *line,
                          const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static size_t format_line(const struct weave_log *log,
                          enum weave_log_level level, char *line,
                          const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t len = vformat_line(log, level, line, fmt, ap);
    va_end(ap);
    return len;
}

/* Says how many lines were lost before the next one goes out, at WARN (or
 * the logger's level, if higher: it must not be filtered). Returns -1 if
 * the fd is still full: the caller's line is then dropped too, so that the
 * notice stays in front of it. */
static int report_dropped(const struct weave_log *log)
{
    if (atomic_load_explicit(&dropped_lines, memory_order_relaxed) == 0)
        return 0;
    unsigned long lost = atomic_exchange(&dropped_lines, 0);
    if (lost == 0)
        return 0; /* another thread reported them */

    char line[WEAVE_LOG_LINE_MAX];
    enum weave_log_level level =
        log->level > WEAVE_LOG_WARN ? log->level : WEAVE_LOG_WARN;
    size_t len = format_line(log, level, line,
                             "%lu log line%s dropped: the log output was full "
                             "(is anyone reading it?)", lost, lost == 1 ? "" : "s");
    if (len > 0 && write_line(log, line, len) != 0) {
        atomic_fetch_add(&dropped_lines, lost);
        return -1;
    }
    return 0;
}

void weave_logf(const struct weave_log *log, enum weave_log_level level,
                const char *fmt, ...)
{
    char line[WEAVE_LOG_LINE_MAX];
    int saved_errno = errno; /* callers log, then look at errno again */

    if (!weave_log_enabled(log, level))
        return;

    if (report_dropped(log) != 0) {
        atomic_fetch_add(&dropped_lines, 1);
        errno = saved_errno;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    size_t len = vformat_line(log, level, line, fmt, ap);
    va_end(ap);
    if (len > 0 && write_line(log, line, len) != 0)
        atomic_fetch_add(&dropped_lines, 1);
    errno = saved_errno;
}
