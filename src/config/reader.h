/*
 * reader.h -- loading a configuration file into a struct config.
 *
 * config_load() reads an INI file with inih (reader.c), stores every
 * [server] and service key by the tables in config_keys.c through the
 * setters of values.c, resolves relative paths from the file's directory,
 * checks what involves several keys (checks.c), and collects every problem
 * it finds into a diag list as "FILE:LINE: message".  Module keys are kept
 * raw here; modload.c stores them through the same setters once the module
 * is loaded and its key table known.
 */
#ifndef PF_READER_H
#define PF_READER_H

#include <stddef.h>

#include "config.h"
#include "diag.h"

/*
 * Read and check path.  On success returns a config the caller frees with
 * config_free(); on any error returns NULL with every problem in d.
 * Does not load modules, bind or fork.
 */
struct config *config_load(const char *path, struct diag *d);

/* As config_load, but when the file has errors still returns what could
 * be parsed (NULL only when nothing could), so that a caller can go on to
 * check the modules of the services that are whole and report the file's
 * and the modules' problems in one run.  Usable only when d is empty;
 * free it either way. */
struct config *config_load_partial(const char *path, struct diag *d);

/* Same as config_load, from a buffer, as if read from a file named `name` in `dir`
 * (used by the fuzzer and unit tests). */
struct config *config_load_buffer(const char *buf, size_t len, const char *name,
                                  const char *dir, struct diag *d);

void config_free(struct config *cfg);

#endif
