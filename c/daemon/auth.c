/* SO_PEERCRED check; see auth.h. */
#define _GNU_SOURCE
#include "daemon/auth.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

enum weave_auth_result weave_auth_check(int fd, uid_t want_uid,
                                        struct weave_peer *peer)
{
    struct ucred cred;
    socklen_t len = sizeof cred;

    memset(peer, 0, sizeof *peer);
    memset(&cred, 0, sizeof cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
        return WEAVE_AUTH_ERROR;
    if (len != sizeof cred) {
        errno = EPROTO; /* a short answer is not credentials we can trust */
        return WEAVE_AUTH_ERROR;
    }
    peer->uid = cred.uid;
    peer->gid = cred.gid;
    peer->pid = cred.pid;
    return cred.uid == want_uid ? WEAVE_AUTH_OK : WEAVE_AUTH_REJECTED;
}
