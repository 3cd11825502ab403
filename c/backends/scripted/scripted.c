/* The test-only scripted backend; the grammar is in scripted.h. */
#define _GNU_SOURCE
#include "backends/scripted/scripted.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PREFIX "script:"
#define MAX_STEP_MS 600000u
#define SLICE_MS 10u

enum action_kind { ACT_FAIL, ACT_CRASH, ACT_ABORT, ACT_EXIT, ACT_HANG };

struct action {
    enum action_kind kind;
    uint32_t step;   /* 1-based */
    uint32_t value;  /* error code, signal number or exit status */
    char msg[WEAVE_MAX_ERROR_MESSAGE + 1];
};

#define MAX_ACTIONS 8

struct script {
    uint32_t step_ms;
    uint8_t rgb[3];
    struct action act[MAX_ACTIONS];
    uint32_t n_act;
};

/* A bounded view of the prompt: it is not NUL-terminated. */
struct cursor {
    const char *p, *end;
};

/* Parses decimal digits [s, e) into *out (<= max); 0 or -1. */
static int parse_uint(const char *s, const char *e, uint32_t max, uint32_t *out)
{
    uint64_t v = 0;
    if (s == e)
        return -1;
    for (; s < e; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10u + (uint64_t)(*s - '0');
        if (v > max)
            return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int word_is(const char *s, const char *e, const char *lit)
{
    size_t n = strlen(lit);
    return (size_t)(e - s) == n && memcmp(s, lit, n) == 0;
}

static int parse_signal(const char *s, const char *e, uint32_t *sig)
{
    static const struct {
        const char *name;
        int sig;
    } sigs[] = {{"segv", SIGSEGV}, {"bus", SIGBUS}, {"ill", SIGILL},
                {"fpe", SIGFPE}, {"kill", SIGKILL}};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        if (word_is(s, e, sigs[i].name)) {
            *sig = (uint32_t)sigs[i].sig;
            return 0;
        }
    }
    return -1;
}

/* Splits an optional "@STEP" off [s, *e); 0 or -1. */
static int take_step(const char *s, const char **e, uint32_t *step)
{
    *step = 1;
    const char *at = memchr(s, '@', (size_t)(*e - s));
    if (at == NULL)
        return 0;
    if (parse_uint(at + 1, *e, UINT32_MAX, step) != 0 || *step == 0)
        return -1;
    *e = at;
    return 0;
}

/* One word [s, e) into sc; 0 or -1 (malformed or unknown). */
static int parse_word(const char *s, const char *e, struct script *sc)
{
    if (e - s > 8 && memcmp(s, "step-ms=", 8) == 0)
        return parse_uint(s + 8, e, MAX_STEP_MS, &sc->step_ms);
    if (e - s == 12 && memcmp(s, "color=", 6) == 0) {
        for (int i = 0; i < 3; i++) {
            int hi = hex_digit(s[6 + 2 * i]), lo = hex_digit(s[7 + 2 * i]);
            if (hi < 0 || lo < 0)
                return -1;
            sc->rgb[i] = (uint8_t)(hi << 4 | lo);
        }
        return 0;
    }
    if (sc->n_act == MAX_ACTIONS)
        return -1;
    struct action *a = &sc->act[sc->n_act];
    memset(a, 0, sizeof *a);
    if (take_step(s, &e, &a->step) != 0)
        return -1;
    if (e - s > 5 && memcmp(s, "fail=", 5) == 0) {
        const char *colon = memchr(s, ':', (size_t)(e - s));
        const char *code_end = colon != NULL ? colon : e;
        a->kind = ACT_FAIL;
        if (parse_uint(s + 5, code_end, 999, &a->value) != 0)
            return -1;
        if (colon != NULL) {
            /* :"MSG" — quotes required, MSG fits an error message. */
            size_t n = (size_t)(e - colon);
            if (n < 3 || colon[1] != '"' || e[-1] != '"' ||
                n - 3 > WEAVE_MAX_ERROR_MESSAGE)
                return -1;
            memcpy(a->msg, colon + 2, n - 3);
            a->msg[n - 3] = '\0';
        }
    } else if (e - s > 6 && memcmp(s, "crash=", 6) == 0) {
        a->kind = ACT_CRASH;
        if (parse_signal(s + 6, e, &a->value) != 0)
            return -1;
    } else if (word_is(s, e, "abort")) {
        a->kind = ACT_ABORT;
    } else if (e - s > 5 && memcmp(s, "exit=", 5) == 0) {
        a->kind = ACT_EXIT;
        if (parse_uint(s + 5, e, 255, &a->value) != 0)
            return -1;
    } else if (word_is(s, e, "hang")) {
        a->kind = ACT_HANG;
    } else {
        return -1;
    }
    sc->n_act++;
    return 0;
}

/* The end of the word starting at s: the next space outside quotes. */
static const char *word_end(const char *s, const char *end)
{
    int quoted = 0;
    for (; s < end; s++) {
        if (*s == '"')
            quoted = !quoted;
        else if (*s == ' ' && !quoted)
            break;
    }
    return s;
}

static int parse_script(struct weave_bytes prompt, struct script *sc,
                        struct weave_error *err)
{
    memset(sc, 0, sizeof *sc);
    sc->rgb[0] = sc->rgb[1] = sc->rgb[2] = 0x80;
    const char *p = (const char *)prompt.data;
    const char *end = p + prompt.len;
    size_t plen = sizeof PREFIX - 1;
    if (prompt.len < plen || memcmp(p, PREFIX, plen) != 0)
        return 0; /* a plain job */
    for (p += plen; p < end;) {
        if (*p == ' ') {
            p++;
            continue;
        }
        const char *e = word_end(p, end);
        if (parse_word(p, e, sc) != 0) {
            weave_error_set(err, 0, WEAVE_ERR_INVALID_PROMPT,
                            "scripted: unknown or malformed word \"%.*s\"",
                            (int)(e - p > 64 ? 64 : e - p), p);
            return -1;
        }
        p = e;
    }
    return 0;
}

static void sleep_ms(uint32_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Dies by sig even where a handler (a sanitizer's) is installed. */
static void die_by(int sig)
{
    signal(sig, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
    _exit(128 + sig); /* not reached */
}

/* Runs the action due at this step, if any: returns -1 for a failure
 * (*err set); the others do not return. */
static int act(const struct script *sc, uint32_t step, struct weave_error *err)
{
    for (uint32_t i = 0; i < sc->n_act; i++) {
        const struct action *a = &sc->act[i];
        if (a->step != step)
            continue;
        switch (a->kind) {
        case ACT_FAIL:
            weave_error_set(err, 0, a->value, "%s",
                            a->msg[0] != '\0' ? a->msg
                                              : weave_error_code_name(a->value));
            return -1;
        case ACT_CRASH:
            die_by((int)a->value);
            break;
        case ACT_ABORT:
            abort();
        case ACT_EXIT:
            _exit((int)a->value);
        case ACT_HANG:
            for (;;)
                sleep_ms(1000);
        }
    }
    return 0;
}

/* Sleeps ms in slices, asking should_stop between them; 1 when told to. */
static int nap(const struct weave_gen_hooks *hooks, uint32_t ms)
{
    while (ms > 0) {
        uint32_t slice = ms < SLICE_MS ? ms : SLICE_MS;
        sleep_ms(slice);
        ms -= slice;
        if (ms > 0 && hooks->should_stop(hooks->ctx))
            return 1;
    }
    return 0;
}

static int scripted_init(void **state, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    *state = NULL;
    return 0;
}

static int scripted_generate(void *state, const struct weave_gen_params *p,
                             const struct weave_gen_hooks *hooks,
                             uint8_t *pixels, size_t cap,
                             struct weave_error *err)
{
    (void)state;
    struct script sc;
    if (parse_script(p->clip_l, &sc, err) != 0)
        return -1;
    uint64_t size = (uint64_t)p->width * p->height * 3u;
    if (size > cap) {
        weave_error_set(err, 0, WEAVE_ERR_INTERNAL,
                        "scripted: %ux%u does not fit a %zu-byte buffer",
                        (unsigned)p->width, (unsigned)p->height, cap);
        return -1;
    }
    uint32_t steps = p->steps != 0 ? p->steps : 1;
    for (uint32_t i = 1; i <= steps; i++) {
        if (hooks->should_stop(hooks->ctx)) {
            weave_gen_set_cancelled(err);
            return -1;
        }
        if (act(&sc, i, err) != 0)
            return -1;
        if (nap(hooks, sc.step_ms)) {
            weave_gen_set_cancelled(err);
            return -1;
        }
        hooks->step(hooks->ctx, i, steps);
    }
    for (uint64_t i = 0; i < size; i += 3)
        memcpy(pixels + i, sc.rgb, 3);
    return 0;
}

static void scripted_shutdown(void *state)
{
    (void)state;
}

const struct weave_backend weave_backend_scripted = {
    .name = "scripted",
    .description = "scripted (TEST ONLY: each job's behaviour comes from its "
                   "prompt; flat-colour images)",
    .init = scripted_init,
    .generate = scripted_generate,
    .shutdown = scripted_shutdown,
};
