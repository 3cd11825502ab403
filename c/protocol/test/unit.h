/*
 * A very small harness for the codec's unit tests: CHECK records a failed
 * condition in the current case, and unit_run runs the cases, one line
 * each, then prints "N passed, N failed".
 */
#ifndef WEAVE_PROTOCOL_TEST_UNIT_H
#define WEAVE_PROTOCOL_TEST_UNIT_H

#include <stddef.h>

struct unit_case {
    const char *name;
    void (*fn)(void);
};

/* Records expr as failed at file:line when ok is 0. */
void unit_check_at(int ok, const char *file, int line, const char *expr);

#define CHECK(cond) unit_check_at((cond) ? 1 : 0, __FILE__, __LINE__, #cond)

/* Runs the n cases; returns the process exit status (0 when all passed). */
int unit_run(const struct unit_case *cases, size_t n);

#endif /* WEAVE_PROTOCOL_TEST_UNIT_H */
