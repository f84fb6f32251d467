/*
 * End-to-end test harness: starts the real switchboard binary ($SWITCHBOARD_BIN) on a free
 * 127.0.0.1 port with a temporary data directory, and speaks HTTP to it with libcurl.
 * The server is tied to the test process (PR_SET_PDEATHSIG), and its directories are removed
 * when the test process ends (temp_dir), so a failed, crashed or timed-out test leaves no server
 * and no files behind; every request has a timeout.
 */
#ifndef SB_HARNESS_H
#define SB_HARNESS_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

typedef struct server {
    pid_t pid;
    int port;
    char dir[256];   /* data directory */
    char log[300];   /* the server's stderr */
    char token[128]; /* the admin token from admin.token */
    const char *args[24];
    int n_args;
} server;

/** Starts a server with extra arguments (NULL-terminated, may be NULL); asserts it came up. */
void server_start(server *s, const char *const *extra);
/** The same on a given port (0: a free one). */
void server_start_on(server *s, int port, const char *const *extra);
/** Starts again on the same port and data directory. */
void server_restart(server *s);
/** Sends sig, then waits at most 10 s (then SIGKILL).
 *  @return the exit status, -100 - the signal that ended it, or -1 if it had to be killed */
int server_stop(server *s, int sig);
/** The server's stderr so far (static buffer, last 8 KiB), for failure messages. */
const char *server_log(const server *s);
/** Stops the server if running and removes its data directory. */
void server_cleanup(server *s);

typedef struct resp {
    long status;
    char *body;
    json_t *json;    /* the body parsed, or NULL */
    json_t *headers; /* lower-case name -> last value */
} resp;

/** Sends a request. headers: NULL-terminated "Name: value" strings, may be NULL. */
resp request(const server *s, const char *method, const char *path, const char *body,
             const char *const *headers);
/** The same with "Authorization: Bearer <admin token>" added. */
resp admin(const server *s, const char *method, const char *path, const char *body,
           const char *const *headers);
const char *header(const resp *r, const char *name);
void resp_free(resp *r);

/** One HTTP/1.1 answer read off a raw connection (raw_request). */
typedef struct raw_resp {
    int status;     /* 0: the connection closed, or the wait ran out, before a status line */
    bool timed_out; /* the wait ran out before the answer was whole */
    char *head;     /* the status line and header lines, NUL-terminated */
    char *body;     /* body_len bytes (it may hold NULs), NUL-terminated */
    size_t body_len;
    json_t *headers; /* lower-case name -> last value */
    json_t *json;    /* the body parsed, or NULL */
} raw_resp;

/**
 * Sends len bytes verbatim on a new connection to s, shuts down its sending side, and reads the
 * first answer (as long as its Content-Length says, else up to the close), for at most
 * timeout_ms. Sending and reading interleave, so an answer to a request that is still being sent
 * (an early 413) is read, not lost.
 * @return 0, or -1 when no connection could be made (out is then empty)
 */
int raw_request(const server *s, const char *bytes, size_t len, int timeout_ms, raw_resp *out);
void raw_resp_free(raw_resp *r);

/** Runs the switchboard binary with args on s's data directory; @return its exit status. */
int run_switchboard(const server *s, const char *const *args, char *out, size_t outlen);

/** Runs argv[0] with argv (NULL-terminated) and extra environment entries ("NAME=value", may be
 *  NULL), stdin from /dev/null; collects stdout in out and stderr in err (NULL: stderr goes to
 *  out). @return the exit status, or -1 if a signal ended it */
int run_program(const char *const *argv, const char *const *env, char *out, size_t outlen,
                char *err, size_t errlen);

/** Makes a new directory $TMPDIR/sb-<name>-XXXXXX (TMPDIR defaults to /tmp) into dir, and has it
 *  removed when this test process ends, however it ends: a failed assertion, a crash or a
 *  timeout. Server data directories and their logs are made this way. */
void temp_dir(char *dir, size_t len, const char *name);

/** Makes a self-signed certificate for 127.0.0.1 and its key in a temp_dir; asserts openssl
 *  could. cert and key receive their paths (300 bytes each). */
void tls_cert(char cert[300], char key[300]);

/** A loopback port that was free a moment ago, below the ephemeral range (so that no outgoing
 *  connection takes it meanwhile). */
int free_port(void);

/** The whole file at path, NUL-terminated (free it); asserts it can be read. */
char *slurp(const char *path);
/** A monotonic clock, in seconds. */
double now_s(void);
/** The value of one sample ("name{labels}") in a /metrics page, or -1 when absent. */
double metric_in(const char *text, const char *sample);
/** The same, from a fresh GET /metrics of s. */
double metric_now(const server *s, const char *sample);

/** The current store revision, from /readyz. */
long long revision_of(const server *s);

#endif
