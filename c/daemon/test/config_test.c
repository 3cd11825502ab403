/* Command line and WEAVE_LOG_LEVEL parsing (docs/DEVELOPMENT.md). */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "daemon_testutil.h"
#include "daemon/config.h"

static char err[256];

/* Parses a NULL-terminated list of arguments (argv[0] added). */
static int parse(struct weave_config *cfg, const char *env, const char *a1,
                 const char *a2, const char *a3)
{
    char *argv[5] = {"weave-compute", (char *)a1, (char *)a2, (char *)a3, NULL};
    int argc = 1;
    while (argc < 4 && argv[argc] != NULL)
        argc++;
    return weave_config_parse(cfg, argc, argv, env, err, sizeof err);
}

static void test_defaults(void)
{
    struct weave_config c;
    CHECK(parse(&c, NULL, NULL, NULL, NULL) == 0);
    CHECK(c.action == WEAVE_ACTION_RUN);
    CHECK(c.log_level == WEAVE_LOG_INFO);
    CHECK(c.read_timeout_ms == 60000);
    CHECK(c.write_timeout_ms == 5000);
    CHECK(c.max_connections == 64);
    CHECK(c.shutdown_timeout_ms == 2000);
}

static void test_flags(void)
{
    struct weave_config c;
    CHECK(parse(&c, NULL, "--log-level=debug", "--read-timeout-ms=250",
                "--write-timeout-ms=7") == 0);
    CHECK(c.log_level == WEAVE_LOG_DEBUG && c.read_timeout_ms == 250 &&
          c.write_timeout_ms == 7);
    CHECK(parse(&c, NULL, "--max-connections=3", "--shutdown-timeout-ms=0",
                NULL) == 0);
    CHECK(c.max_connections == 3 && c.shutdown_timeout_ms == 0);
    /* "--flag value" works too. */
    CHECK(parse(&c, NULL, "--max-connections", "9", NULL) == 0);
    CHECK(c.max_connections == 9);
    CHECK(parse(&c, NULL, "--help", NULL, NULL) == 0 &&
          c.action == WEAVE_ACTION_HELP);
    CHECK(parse(&c, NULL, "--version", NULL, NULL) == 0 &&
          c.action == WEAVE_ACTION_VERSION);
}

static void test_worker_flags(void)
{
    struct weave_config c;
    CHECK(parse(&c, NULL, NULL, NULL, NULL) == 0);
    CHECK(c.generation_timeout_ms == 600000 && c.keep_alive_ms == 300000 &&
          c.step_delay_ms == 0);
    CHECK(parse(&c, NULL, "--generation-timeout-ms=0", "--keep-alive-ms=-1",
                "--step-delay-ms=25") == 0);
    CHECK(c.generation_timeout_ms == 0 && c.keep_alive_ms == -1 &&
          c.step_delay_ms == 25);
    CHECK(parse(&c, NULL, "--keep-alive-ms", "0", NULL) == 0 && c.keep_alive_ms == 0);
    CHECK(parse(&c, NULL, "--keep-alive-ms=86400000", NULL, NULL) == 0 &&
          c.keep_alive_ms == 86400000);
    const char *bad[] = {"--keep-alive-ms=-2", "--keep-alive-ms=", "--keep-alive-ms=1s",
                         "--keep-alive-ms=86400001", "--step-delay-ms=60001",
                         "--generation-timeout-ms=-1", "--step-delay-ms=x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(parse(&c, NULL, bad[i], NULL, NULL) == -1);
        CHECK(strstr(err, "invalid --") != NULL);
    }
    CHECK(parse(&c, NULL, "--keep-alive-ms", NULL, NULL) == -1);
}

static void test_bad_values(void)
{
    struct weave_config c;
    const char *bad[] = {
        "--read-timeout-ms=0",     "--read-timeout-ms=",
        "--read-timeout-ms=-5",    "--read-timeout-ms=1e3",
        "--read-timeout-ms= 5",    "--read-timeout-ms=5ms",
        "--write-timeout-ms=99999999999999999999",
        "--max-connections=0",     "--max-connections=65537",
        "--shutdown-timeout-ms=86400001", "--log-level=verbose",
        "--log-level=",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        int r = parse(&c, NULL, bad[i], NULL, NULL);
        CHECK(r == -1);
        CHECK(err[0] != '\0');
        if (r != -1)
            printf("    accepted: %s\n", bad[i]);
    }
    CHECK(parse(&c, NULL, "--max-connections", NULL, NULL) == -1);
    CHECK(strstr(err, "needs a value") != NULL);
}

static void test_unknown(void)
{
    struct weave_config c;
    CHECK(parse(&c, NULL, "--frobnicate", NULL, NULL) == -1);
    CHECK(strcmp(err, "unknown option '--frobnicate'") == 0);
    CHECK(parse(&c, NULL, "-x", NULL, NULL) == -1);
    CHECK(parse(&c, NULL, "serve", NULL, NULL) == -1);
    CHECK(strstr(err, "unexpected argument") != NULL);
    /* A prefix of a real flag is not that flag. */
    CHECK(parse(&c, NULL, "--log-levelx=debug", NULL, NULL) == -1);
}

static void test_env(void)
{
    struct weave_config c;
    CHECK(parse(&c, "debug", NULL, NULL, NULL) == 0);
    CHECK(c.log_level == WEAVE_LOG_DEBUG);
    CHECK(parse(&c, "WARN", NULL, NULL, NULL) == 0);
    CHECK(c.log_level == WEAVE_LOG_WARN);
    /* The flag wins, even over an invalid value in the environment. */
    CHECK(parse(&c, "debug", "--log-level=error", NULL, NULL) == 0);
    CHECK(c.log_level == WEAVE_LOG_ERROR);
    CHECK(parse(&c, "nonsense", "--log-level=info", NULL, NULL) == 0);
    CHECK(c.log_level == WEAVE_LOG_INFO);
    /* Invalid alone: usage error. Empty: as if unset. */
    CHECK(parse(&c, "nonsense", NULL, NULL, NULL) == -1);
    CHECK(strstr(err, "WEAVE_LOG_LEVEL") != NULL);
    CHECK(parse(&c, "", NULL, NULL, NULL) == 0 && c.log_level == WEAVE_LOG_INFO);
}

static void test_usage_text(void)
{
    char buf[8192];
    FILE *f = fmemopen(buf, sizeof buf, "w");
    weave_config_usage(f, "a test backend (draws nothing)");
    fclose(f);
    const char *must[] = {"--log-level", "--read-timeout-ms", "--write-timeout-ms",
                          "--max-connections", "--shutdown-timeout-ms", "--help",
                          "--version", "XDG_RUNTIME_DIR", "WEAVE_LOG_LEVEL",
                          "weave.sock", "Backend: a test backend (draws nothing).", "Exit status",
                          "LISTEN_FDS"};
    for (size_t i = 0; i < sizeof must / sizeof must[0]; i++)
        CHECK(strstr(buf, must[i]) != NULL);

    f = fmemopen(buf, sizeof buf, "w");
    weave_config_version(f);
    fclose(f);
    CHECK(strcmp(buf, "weave-compute 0.1.0 (protocol 1..2)\n") == 0);
}

int main(void)
{
    tu_run("config: defaults", test_defaults);
    tu_run("config: flags", test_flags);
    tu_run("config: worker flags", test_worker_flags);
    tu_run("config: invalid values are usage errors", test_bad_values);
    tu_run("config: unknown options", test_unknown);
    tu_run("config: WEAVE_LOG_LEVEL and precedence", test_env);
    tu_run("config: --help and --version text", test_usage_text);
    return tu_summary();
}
