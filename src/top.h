/*
 * top.h -- `prefork -s top`: a running master's scoreboard as a live view
 * in the terminal, refreshed every second.
 */
#ifndef PF_TOP_H
#define PF_TOP_H

struct scoreboard;

/* Show sb until Ctrl-C, `q`, or frames frames (0: no end).  On a terminal
 * the view takes the alternate screen and gives the terminal back as it
 * found it on every way out; otherwise (or with frames 1) each frame is
 * plain text.  Returns 0, or 1 with the reason printed. */
int top_run(const struct scoreboard *sb, int frames);

#endif
