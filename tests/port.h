/*
 * Loopback ports for test servers, shared by the test harness and bench/crash. No Criterion
 * here: bench/crash is a plain program.
 */
#ifndef SB_TEST_PORT_H
#define SB_TEST_PORT_H

/**
 * A port on 127.0.0.1 that was bindable a moment ago, below the kernel's ephemeral range, so
 * that no outgoing connection (of this process or anything else on the machine) takes it as its
 * local port before the server binds it, or between a server's kill and its restart on it.
 * @return the port, or 0 when none was found
 */
int low_free_port(void);

#endif
