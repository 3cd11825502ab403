/*
 * weave-compute: the Weave image-generation daemon, serving with the
 * procedural backend (docs/BACKEND.md). The transport is daemon.h; this
 * file only picks the backend.
 */
#define _GNU_SOURCE
#include "backends/procedural/procedural.h"
#include "daemon/daemon.h"

int main(int argc, char *argv[])
{
    return weave_daemon_main(argc, argv, &weave_backend_procedural);
}
