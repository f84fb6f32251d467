/*
 * The command line: `switchboard <command> [options]`, one file per command (serve.c, token.c,
 * migrate.c), each owning its options and its help; main.c holds the table of commands. This
 * folder puts the layers together: it may include core/, store/ and http/.
 *
 * A command returns its exit status: 0 done, 1 failed, 2 used wrongly (an option it does not
 * own, a bad value, a missing argument), after saying why on stderr.
 */
#ifndef SB_CLI_H
#define SB_CLI_H

#include <getopt.h>
#include <stdbool.h>

#include "core/store.h"

/* One command: its name, its one-line summary for `switchboard --help`, and its entry point
 * (argv[0] is the command's name). */
typedef struct sb_command {
    const char *name, *summary;
    int (*run)(int argc, char **argv);
} sb_command;

int sb_cmd_serve(int argc, char **argv);
int sb_cmd_token(int argc, char **argv);
int sb_cmd_migrate(int argc, char **argv);

/* The data directory's default, for every command. */
#define SB_DATA_DEFAULT "switchboard-data"

/** Prints "switchboard: " and the message (one %s of arg) on stderr. @return 1 */
int sb_cli_fail(const char *fmt, const char *arg);

/**
 * getopt_long over argv with the command's options, reporting a usage error itself.
 * @return the option's value as getopt_long gives it, -1 at the end, or '?' after an option the
 *         command does not own (or a missing value): the caller exits 2
 */
int sb_cli_option(const char *command, int argc, char **argv, const struct option *options);

/** Parses a decimal number in [lo, hi]. */
bool sb_cli_uint(const char *s, unsigned lo, unsigned hi, unsigned *out);

/**
 * Takes the data directory's lock (dir/serve.lock): one process serves or migrates a store.
 * @return the lock's file descriptor (close it to let go), or -1 when another process has it
 */
int sb_cli_lock(const char *dir);

/** Creates a token of scope named name; its secret ("sb_..." ) into secret. 0 or a store error. */
int sb_cli_token_create(sb_store *store, const char *name, const char *scope, char secret[64]);

#endif
