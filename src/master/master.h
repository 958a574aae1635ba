/*
 * master.h -- the master process: its main loop (its state: mstate.h).
 *
 * The master binds, forks and supervises; it never touches client traffic.
 * It sleeps with every signal blocked but while waiting in ppoll(); signal
 * handlers only raise flags and the loop acts on them (the nginx pattern).
 */
#ifndef PF_MASTER_H
#define PF_MASTER_H

#include "config.h"

/* Run the master with a checked, prepared config (modules loaded).  Takes
 * ownership of cfg.  Returns the process exit status. */
int master_run(struct config *cfg, const char *conf_path, int foreground);

#endif
