/*
 * Descriptors over the Unix socket, both ways (SPEC 11.4, docs/SECURITY.md).
 *
 * In: a client may attach descriptors (SCM_RIGHTS) to what it sends. The
 * daemon never wants one: weave_fd_recv() reads like recv(2) but through
 * recvmsg(2) with MSG_CMSG_CLOEXEC (an fd that arrives is never inherited
 * by a child, even for the instant before it is closed) and closes every
 * descriptor that came, so a client can neither leak descriptors into the
 * daemon nor exhaust its table.
 *
 * Out: weave_fd_send() sends bytes like send(2) with MSG_NOSIGNAL, and, if
 * asked, ONE descriptor in an SCM_RIGHTS control message on that same
 * sendmsg, i.e. with the first byte it sends.
 */
#ifndef WEAVE_FDPASS_H
#define WEAVE_FDPASS_H

#include <stddef.h>
#include <sys/types.h>

/*
 * recv(fd, buf, len, 0) that retries EINTR; descriptors that came with the
 * bytes are closed and counted in *dropped (may be NULL). Returns what recv
 * returns (-1 with errno, 0 at EOF).
 */
ssize_t weave_fd_recv(int fd, void *buf, size_t len, unsigned *dropped);

/*
 * send(fd, buf, len, MSG_NOSIGNAL) that retries EINTR; when pass_fd >= 0,
 * the same sendmsg carries pass_fd in SCM_RIGHTS (the kernel passes it with
 * the first byte sent: the caller must pass it only with the message's
 * first byte, and only once the call returned > 0 is it on its way).
 * Returns what send returns. len must be >= 1 when passing a descriptor.
 */
ssize_t weave_fd_send(int fd, const void *buf, size_t len, int pass_fd);

#endif /* WEAVE_FDPASS_H */
