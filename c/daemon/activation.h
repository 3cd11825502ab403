/*
 * systemd socket activation (sd_listen_fds(3) protocol, without libsystemd):
 * when LISTEN_PID is our pid and LISTEN_FDS is 1, the listening socket is
 * fd 3. The variables are unset afterwards so children do not inherit them.
 */
#ifndef WEAVE_ACTIVATION_H
#define WEAVE_ACTIVATION_H

#include <stddef.h>

#define WEAVE_ACTIVATION_FD 3 /* SD_LISTEN_FDS_START */

/*
 * Returns 0 when not socket-activated (*fd = -1), 1 with *fd = 3 set
 * non-blocking and close-on-exec after checking it is a listening AF_UNIX
 * stream socket, or -1 with a reason in err (exit 1): more than one fd,
 * unparsable variables, or fd 3 not such a socket.
 */
int weave_activation_detect(int *fd, char *err, size_t errlen);

#endif /* WEAVE_ACTIVATION_H */
