/*
 * weave-compute-scripted: the daemon with the test-only scripted backend
 * (c/backends/scripted/scripted.h), so tests can make a chosen job sleep,
 * fail or crash. Same transport as weave-compute; only the backend differs.
 */
#define _GNU_SOURCE
#include "backends/scripted/scripted.h"
#include "daemon/daemon.h"

int main(int argc, char *argv[])
{
    return weave_daemon_main(argc, argv, &weave_backend_scripted);
}
