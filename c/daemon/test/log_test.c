/* Log format (docs/DEVELOPMENT.md), level parsing and filtering. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon_testutil.h"
#include "daemon/log.h"

/* Logs through a pipe and returns what came out (static buffer). */
static const char *capture(enum weave_log_level level,
                           void (*emit)(const struct weave_log *))
{
    static char out[8192];
    int p[2];
    if (pipe(p) != 0)
        abort();
    struct weave_log log;
    weave_log_init(&log, level, p[1]);
    emit(&log);
    close(p[1]);
    size_t len = 0;
    ssize_t n;
    while ((n = read(p[0], out + len, sizeof out - 1 - len)) > 0)
        len += (size_t)n;
    out[len] = '\0';
    close(p[0]);
    return out;
}

static void emit_all_levels(const struct weave_log *log)
{
    weave_debug(log, "d %d", 1);
    weave_info(log, "i %d", 2);
    weave_warn(log, "w %d", 3);
    weave_error(log, "e %d", 4);
}

/* "2026-11-26T09:30:00.123Z weave-compute[1234] INFO message" */
static int line_ok(const char *line, const char *level, const char *msg)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ ";
    for (size_t i = 0; i < sizeof shape - 1; i++) {
        if (shape[i] == 'd' ? !isdigit((unsigned char)line[i]) : line[i] != shape[i])
            return 0;
    }
    char want[128];
    snprintf(want, sizeof want, "weave-compute[%ld] %s %s\n", (long)getpid(),
             level, msg);
    return strncmp(line + sizeof shape - 1, want, strlen(want)) == 0;
}

static void test_format(void)
{
    const char *out = capture(WEAVE_LOG_DEBUG, emit_all_levels);
    const char *l = out;
    CHECK(line_ok(l, "DEBUG", "d 1"));
    l = strchr(l, '\n') + 1;
    CHECK(line_ok(l, "INFO", "i 2"));
    l = strchr(l, '\n') + 1;
    CHECK(line_ok(l, "WARN", "w 3"));
    l = strchr(l, '\n') + 1;
    CHECK(line_ok(l, "ERROR", "e 4"));
    CHECK(tu_count_lines(out, "weave-compute[") == 4);
}

static void test_filtering(void)
{
    const char *out = capture(WEAVE_LOG_INFO, emit_all_levels);
    CHECK(strstr(out, "DEBUG") == NULL);
    CHECK(tu_count_lines(out, " INFO i 2") == 1);
    out = capture(WEAVE_LOG_WARN, emit_all_levels);
    CHECK(strstr(out, "INFO") == NULL && strstr(out, "WARN w 3") != NULL);
    out = capture(WEAVE_LOG_ERROR, emit_all_levels);
    CHECK(tu_count_lines(out, "weave-compute[") == 1 && strstr(out, "ERROR e 4"));

    struct weave_log log;
    weave_log_init(&log, WEAVE_LOG_INFO, 2);
    CHECK(!weave_log_enabled(&log, WEAVE_LOG_DEBUG));
    CHECK(weave_log_enabled(&log, WEAVE_LOG_ERROR));
    weave_log_init(&log, WEAVE_LOG_DEBUG, -1);
    CHECK(!weave_log_enabled(&log, WEAVE_LOG_ERROR)); /* fd -1 drops all */
}

static void test_parse(void)
{
    enum weave_log_level l = WEAVE_LOG_ERROR;
    CHECK(weave_log_level_parse("debug", &l) == 0 && l == WEAVE_LOG_DEBUG);
    CHECK(weave_log_level_parse("info", &l) == 0 && l == WEAVE_LOG_INFO);
    CHECK(weave_log_level_parse("warn", &l) == 0 && l == WEAVE_LOG_WARN);
    CHECK(weave_log_level_parse("error", &l) == 0 && l == WEAVE_LOG_ERROR);
    CHECK(weave_log_level_parse("DEBUG", &l) == 0 && l == WEAVE_LOG_DEBUG);
    CHECK(weave_log_level_parse("warning", &l) != 0);
    CHECK(weave_log_level_parse("", &l) != 0);
    CHECK(weave_log_level_parse("verbose", &l) != 0);
    CHECK(weave_log_level_parse(NULL, &l) != 0);
    CHECK(strcmp(weave_log_level_name(WEAVE_LOG_WARN), "WARN") == 0);
}

static void emit_newline(const struct weave_log *log)
{
    weave_info(log, "two\nlines\r");
}

static void emit_long(const struct weave_log *log)
{
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    weave_info(log, "%s", big);
}

static void test_one_line_always(void)
{
    const char *out = capture(WEAVE_LOG_INFO, emit_newline);
    CHECK(strstr(out, "INFO two lines \n") != NULL);
    CHECK(tu_count_lines(out, "") == 1);

    out = capture(WEAVE_LOG_INFO, emit_long);
    size_t len = strlen(out);
    CHECK(len <= WEAVE_LOG_LINE_MAX);
    CHECK(len > 5 && strcmp(out + len - 5, "x...\n") == 0);
}

/* Fills the buffer behind fd until not one more byte fits, then puts fd
 * back in blocking mode: a pipe or socket nobody reads. */
static void fill(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    char junk[4096];
    memset(junk, 'j', sizeof junk);
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    while (write(fd, junk, sizeof junk) > 0)
        ;
    while (write(fd, junk, 1) > 0)
        ;
    fcntl(fd, F_SETFL, flags);
}

/* Reads what is there (non-blocking) into out; returns its length. */
static size_t drain(int fd, char *out, size_t cap)
{
    size_t len = 0;
    char buf[4096];
    ssize_t n;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] != 'j' && len + 1 < cap)
                out[len++] = buf[i];
        }
    }
    out[len] = '\0';
    return len;
}

static void check_never_blocks(int r, int w)
{
    struct weave_log log;
    static char out[16384];
    weave_log_init(&log, WEAVE_LOG_INFO, w);
    fill(w);
    alarm(20); /* a blocking write would hang here: SIGALRM ends the test */
    uint64_t t0 = tu_now_ms();
    weave_info(&log, "lost %d", 1);
    weave_warn(&log, "lost %d", 2);
    CHECK(tu_now_ms() - t0 < 1000);
    alarm(0);
    CHECK(drain(r, out, sizeof out) == 0); /* nothing got in */

    /* Room again: the next line is preceded by the count of lost ones. */
    weave_info(&log, "back");
    drain(r, out, sizeof out);
    CHECK(tu_count_lines(out, "weave-compute[") == 2);
    CHECK(strstr(out, " WARN 2 log lines dropped: the log output was full "
                      "(is anyone reading it?)\n") != NULL);
    CHECK(strstr(out, " INFO back\n") != NULL);
    CHECK(strstr(out, "WARN 2") < strstr(out, "INFO back"));
    CHECK(strstr(out, "lost") == NULL);

    /* And nothing more to report after that. */
    weave_info(&log, "again");
    drain(r, out, sizeof out);
    CHECK(tu_count_lines(out, "weave-compute[") == 1 && strstr(out, " INFO again\n"));
}

static void test_full_output_never_blocks(void)
{
    /* stderr as a pipe nobody drains must not stall the daemon. */
    int p[2];
    CHECK(pipe(p) == 0);
    check_never_blocks(p[0], p[1]);
    close(p[0]);
    close(p[1]);

    /* Or as a stream socket (systemd's journal). */
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    check_never_blocks(sv[0], sv[1]);
    close(sv[0]);
    close(sv[1]);
}

/* A line a socket took only part of: its rest waits a little for room,
 * never for ever (nobody reads here), and the next line starts afresh. */
static void test_partial_line_never_blocks(void)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    int sz = 4096;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    struct weave_log log;
    weave_log_init(&log, WEAVE_LOG_INFO, sv[1]);
    char big[900];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    uint64_t worst = 0;
    for (int i = 0; i < 200; i++) {
        uint64_t t0 = tu_now_ms();
        weave_info(&log, "%d %s", i, big);
        uint64_t took = tu_now_ms() - t0;
        if (took > worst)
            worst = took;
    }
    CHECK(worst < 2000); /* at most ~100 ms each; never "until read" */

    static char out[1 << 20];
    int fl = fcntl(sv[0], F_GETFL);
    fcntl(sv[0], F_SETFL, fl | O_NONBLOCK);
    size_t len = 0;
    ssize_t n;
    while ((n = read(sv[0], out + len, sizeof out - 1 - len)) > 0)
        len += (size_t)n;
    weave_info(&log, "after");
    while ((n = read(sv[0], out + len, sizeof out - 1 - len)) > 0)
        len += (size_t)n;
    out[len] = '\0';
    /* "after" is a whole line of its own, at the start of a line. */
    const char *last = strstr(out, " INFO after\n");
    CHECK(last != NULL);
    if (last != NULL) {
        const char *start = last;
        while (start > out && start[-1] != '\n')
            start--;
        CHECK(strncmp(start, "20", 2) == 0); /* the timestamp, not "xxx" */
    }
    close(sv[0]);
    close(sv[1]);
}

int main(void)
{
    tu_run("log: line format", test_format);
    tu_run("log: level filtering", test_filtering);
    tu_run("log: level names", test_parse);
    tu_run("log: newlines and long messages stay one line", test_one_line_always);
    tu_run("log: a full pipe or socket never blocks", test_full_output_never_blocks);
    tu_run("log: a cut line waits briefly; the next starts afresh",
           test_partial_line_never_blocks);
    return tu_summary();
}
