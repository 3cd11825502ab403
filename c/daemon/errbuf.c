/* See errbuf.h. */
#include "daemon/errbuf.h"

#include <stdarg.h>
#include <stdio.h>

int weave_errf(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}
