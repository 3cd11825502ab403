/* Log format (docs/CONTRACTS.md), level parsing and filtering. */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon_testutil.h"
#include "weave/log.h"

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

int main(void)
{
    tu_run("log: line format", test_format);
    tu_run("log: level filtering", test_filtering);
    tu_run("log: level names", test_parse);
    tu_run("log: newlines and long messages stay one line", test_one_line_always);
    return tu_summary();
}
