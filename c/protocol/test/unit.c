#include "unit.h"

#include <stdio.h>

static int case_failures; /* failures in the current case */

void unit_check_at(int ok, const char *file, int line, const char *expr)
{
    if (ok)
        return;
    if (case_failures++ == 0)
        printf("\n");
    printf("    %s:%d: check failed: %s\n", file, line, expr);
}

int unit_run(const struct unit_case *cases, size_t n)
{
    int passed = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        case_failures = 0;
        printf("%s ...", cases[i].name);
        cases[i].fn();
        if (case_failures == 0) {
            printf(" PASS\n");
            passed++;
        } else {
            printf("  FAIL %s (%d checks)\n", cases[i].name, case_failures);
            failed++;
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
