/* Descriptors over the Unix socket; see fdpass.h. */
#define _GNU_SOURCE
#include "daemon/fdpass.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Room for this many descriptors per recvmsg. More than that are never
 * installed in our table: the kernel sets MSG_CTRUNC and releases the
 * ones that do not fit. */
#define RECV_FDS 16

static unsigned close_passed(struct msghdr *m)
{
    unsigned n = 0;

    for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c != NULL; c = CMSG_NXTHDR(m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t bytes = c->cmsg_len - CMSG_LEN(0);
        const unsigned char *p = CMSG_DATA(c);
        for (size_t i = 0; i + sizeof(int) <= bytes; i += sizeof(int)) {
            int fd;
            memcpy(&fd, p + i, sizeof fd); /* CMSG_DATA may be unaligned */
            if (fd >= 0) {
                close(fd); /* never retried: Linux releases it anyway */
                n++;
            }
        }
    }
    return n;
}

ssize_t weave_fd_recv(int fd, void *buf, size_t len, unsigned *dropped)
{
    union {
        struct cmsghdr align;
        unsigned char buf[CMSG_SPACE(RECV_FDS * sizeof(int))];
    } ctl;
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    struct msghdr m;
    ssize_t n;

    do {
        memset(&m, 0, sizeof m);
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = ctl.buf;
        m.msg_controllen = sizeof ctl.buf;
        n = recvmsg(fd, &m, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n >= 0 && m.msg_controllen > 0) {
        int saved = errno;
        unsigned k = close_passed(&m);
        if (dropped != NULL)
            *dropped += k;
        errno = saved;
    }
    return n;
}

ssize_t weave_fd_send(int fd, const void *buf, size_t len, int pass_fd)
{
    union {
        struct cmsghdr align;
        unsigned char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    struct msghdr m;
    ssize_t n;

    memset(&m, 0, sizeof m);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    if (pass_fd >= 0) {
        memset(&ctl, 0, sizeof ctl);
        m.msg_control = ctl.buf;
        m.msg_controllen = sizeof ctl.buf;
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &pass_fd, sizeof pass_fd);
    }
    do {
        n = sendmsg(fd, &m, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n;
}
