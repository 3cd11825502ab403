/*
 * `scripted`: a TEST-ONLY backend whose behaviour each job chooses through
 * its clip_l prompt, so a test can make one job of five sleep, fail or
 * crash while the others succeed. It renders a flat colour, reports every
 * step through the hooks and honours should_stop between steps (and every
 * 10 ms while it sleeps). It is linked only into weave-compute-scripted.
 *
 * Grammar (clip_l; clip_g and t5 are ignored):
 *
 *   prompt  = "script:" { " " word }     anything else: plain job (below)
 *   word    = "step-ms=" N               sleep N ms per step (0..600000)
 *           | "color=" RRGGBB            the flat colour (hex; default 808080)
 *           | "fail=" CODE [ ":" '"' MSG '"' ] [ "@" STEP ]
 *                                        return the error CODE (status from
 *                                        the code, 400 or 500) with MSG
 *           | "crash=" SIG [ "@" STEP ]  die by SIG: segv, bus, ill, fpe, kill
 *           | "abort" [ "@" STEP ]       abort()
 *           | "exit=" N [ "@" STEP ]     _exit(N), N 0..255
 *           | "hang" [ "@" STEP ]        block forever, ignoring should_stop
 *
 * An action happens at the start of step STEP (default 1), before that
 * step is reported, so steps 1..STEP-1 have been; a STEP beyond the job's
 * steps never comes. Several actions: the first whose step comes wins.
 * Words are separated by single or repeated spaces; MSG may hold spaces but
 * no '"'. A prompt that does not start with "script:" is a plain job
 * (flat 808080, no sleep). An unknown or malformed word is refused with
 * 400/4 (invalid prompt) naming the word, before any step.
 *
 * Example: script: step-ms=100 fail=9:"no VRAM"@2
 */
#ifndef WEAVE_BACKEND_SCRIPTED_H
#define WEAVE_BACKEND_SCRIPTED_H

#include "weave/backend.h"

extern const struct weave_backend weave_backend_scripted;

#endif /* WEAVE_BACKEND_SCRIPTED_H */
