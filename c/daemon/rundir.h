/*
 * The daemon's runtime directory, $XDG_RUNTIME_DIR/weave, and the files in
 * it: the socket (weave.sock), the temporary name the socket is bound under
 * before it is renamed into place (weave.tmp), and the lock (weave.lock).
 *
 * Functions that can fail return an enum weave_exit value (0 on success)
 * and write a one-line reason into err, so main() prints and exits.
 */
#ifndef WEAVE_RUNDIR_H
#define WEAVE_RUNDIR_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#define WEAVE_SUN_PATH_MAX 108 /* sizeof(sockaddr_un.sun_path), incl. NUL */

struct weave_paths {
    char dir[PATH_MAX];                /* $XDG_RUNTIME_DIR/weave */
    char sock[WEAVE_SUN_PATH_MAX];     /* .../weave.sock */
    char tmp[WEAVE_SUN_PATH_MAX];      /* .../weave.tmp (shorter than sock) */
    char lock[PATH_MAX];               /* .../weave.lock */
};

/*
 * Builds the paths from the value of XDG_RUNTIME_DIR (NULL when unset).
 * Unset or empty: "XDG_RUNTIME_DIR not set". Relative: refused. A socket
 * path that does not fit sun_path: refused, naming the path and the limit
 * (it is never truncated).
 */
int weave_paths_init(struct weave_paths *p, const char *runtime_dir, char *err,
                     size_t errlen);

/*
 * Creates dir with mode 0700 if it is missing, then insists (lstat, so a
 * symlink is refused rather than followed) that it is a directory owned by
 * the effective uid with no group or other permission bits.
 */
int weave_rundir_prepare(const char *dir, char *err, size_t errlen);

/* The lock that makes one daemon the owner of the socket path. */
struct weave_lock {
    int fd; /* -1 when not held */
    dev_t dev;
    ino_t ino;
};

/*
 * Opens (creating, 0600, O_NOFOLLOW) and flocks path without blocking.
 * Returns 0 holding the lock, WEAVE_EXIT_ALREADY_RUNNING when another
 * process holds it ("another weave-compute is already running (lock held
 * on PATH)"), or WEAVE_EXIT_RUNTIME.
 */
int weave_lock_acquire(struct weave_lock *lk, const char *path, char *err,
                       size_t errlen);

/* Unlinks path if it is still the file we locked, then drops the lock. */
void weave_lock_release(struct weave_lock *lk, const char *path);

#endif /* WEAVE_RUNDIR_H */
