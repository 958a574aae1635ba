/*
 * caps.h -- a master that is not root, and workers that hold nothing.
 *
 * Under a unit with User= and AmbientCapabilities= (contrib/prefork.service)
 * the master runs as an ordinary user that holds a few capabilities:
 * CAP_NET_BIND_SERVICE for ports below 1024, CAP_SETUID and CAP_SETGID to
 * switch its workers to `user`, CAP_KILL to signal them then.  A process
 * that is not root keeps its capabilities across setuid(), so each worker
 * gives them up explicitly once it has switched.
 */
#ifndef PF_CAPS_H
#define PF_CAPS_H

/* May this process switch to another user and group: root, or
 * CAP_SETUID and CAP_SETGID effective?  1 or 0. */
int caps_can_switch_user(void);

/* Has this process any capability permitted (or ambient)?  1 or 0. */
int caps_held(void);

/* Give up every capability: ambient, inheritable, permitted, effective.
 * For a worker that is not root, after its switch to `user`.  0, or -1
 * (logged). */
int caps_drop_all(void);

#endif
