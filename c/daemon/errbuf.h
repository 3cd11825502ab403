/*
 * The daemon's one way to report a setup failure: format a one-line reason
 * into the caller's buffer and return the caller's code, so an error path
 * is `return weave_errf(err, errlen, code, "...", ...);`.
 */
#ifndef WEAVE_ERRBUF_H
#define WEAVE_ERRBUF_H

#include <stddef.h>

/* snprintf into err[errlen] (cut if longer; nothing when errlen is 0),
 * then returns rc. */
int weave_errf(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif /* WEAVE_ERRBUF_H */
