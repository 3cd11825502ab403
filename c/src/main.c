/* weave-compute: the Weave image-generation daemon. See weave/daemon.h. */
#define _GNU_SOURCE
#include "weave/daemon.h"

int main(int argc, char *argv[])
{
    return weave_daemon_main(argc, argv);
}
