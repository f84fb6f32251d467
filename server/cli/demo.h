/* The demo topology that `switchboard` with no arguments seeds into an empty store. */
#ifndef SB_DEMO_H
#define SB_DEMO_H

extern const char sb_demo_topology[];

#endif
