/*
 * values.h -- storing a key's value: the typed setters every key goes
 * through, the core's (config_keys.c) and those a module declares
 * (modload.c), so that a value means the same thing everywhere and a bad
 * one is refused in the same words.
 */
#ifndef PF_VALUES_H
#define PF_VALUES_H

#include <stddef.h>

#include "config_keys.h"

struct pf_key;

/*
 * Store value into the field k names in base (a struct config, a struct
 * service_conf or a module's conf struct); relative paths are taken from
 * dir.  Returns 0, or -1 with the reason in err ("invalid integer 'x'");
 * the caller knows the file, line and section and adds them.
 */
int key_set(const struct key *k, void *base, const char *value, const char *dir,
            char *err, size_t errlen);

/* The index of name in keys[0..n), or -1. */
int key_find(const struct key *keys, size_t n, const char *name);

/* Free what key_set allocated in base for each of keys[0..n). */
void keys_free(const struct key *keys, size_t n, void *base);

/* The core's description of a module's key: its T_ type, the size of its
 * field, bounds (a module's 0, 0 means "not negative").  Returns 0, or -1
 * when the type is one this host does not know (a newer module). */
int key_from_module(const struct pf_key *pk, struct key *k);

/* The name choices gives value, or NULL. */
const char *choice_name(const struct choice *choices, int value);

/* The word the file uses for mode m ("prefork"), or "unknown". */
const char *mode_name(enum pf_mode m);

#endif
