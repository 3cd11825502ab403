/*
 * Peer authentication: the kernel's SO_PEERCRED credentials of the process
 * that connected, compared with our effective uid (userland mode: only the
 * daemon's own user is served). Called right after accept(), before a byte
 * is read or written.
 */
#ifndef WEAVE_AUTH_H
#define WEAVE_AUTH_H

#include <sys/types.h>

enum weave_auth_result {
    WEAVE_AUTH_OK = 0,       /* same uid: serve it */
    WEAVE_AUTH_REJECTED = 1, /* other uid: close without a reply */
    WEAVE_AUTH_ERROR = 2,    /* getsockopt failed (errno set): close */
};

struct weave_peer {
    uid_t uid;
    gid_t gid;
    pid_t pid;
};

/* Fills *peer (when credentials were read) and judges it against want_uid. */
enum weave_auth_result weave_auth_check(int fd, uid_t want_uid,
                                        struct weave_peer *peer);

#endif /* WEAVE_AUTH_H */
