/*
 * switchboard: the daemon's command line (commands in cli.h).
 *
 *   switchboard [serve] [options]     serve the API (the default)
 *   switchboard token create|list|revoke ...
 *   switchboard migrate [--status]
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static const sb_command commands[] = {
    {"serve", "serve the config API (the default command)", sb_cmd_serve},
    {"token", "create, list or revoke API tokens", sb_cmd_token},
    {"migrate", "show or bring the store to this binary's schema", sb_cmd_migrate},
};
#define N_COMMANDS (sizeof commands / sizeof *commands)

static void usage(FILE *out)
{
    fputs("usage: switchboard [COMMAND] [options]\n\ncommands:\n", out);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fputs("\nWith no command, or options first, switchboard serves. `switchboard COMMAND --help`\n"
          "shows a command's options; --version the version.\n\n",
          out);
}

int sb_cli_fail(const char *fmt, const char *arg)
{
    fprintf(stderr, "switchboard: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return 1;
}

int sb_cli_option(const char *command, int argc, char **argv, const struct option *options)
{
    opterr = 0; /* our own message, naming the command */
    int c = getopt_long(argc, argv, ":h", options, NULL);
    if (c == '?' || c == ':') {
        const char *arg = argv[optind - 1];
        fprintf(stderr, "switchboard %s: %s %s (see switchboard %s --help)\n", command,
                c == ':' ? "missing value for" : "unknown option", arg, command);
        return '?';
    }
    return c;
}

bool sb_cli_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *s == '\0' || *end != '\0' || v < lo || v > hi)
        return false;
    *out = (unsigned)v;
    return true;
}

int sb_cli_lock(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/serve.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

int main(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        usage(stdout); /* then the default command's options */
        char *help[] = {"serve", "--help", NULL};
        return sb_cmd_serve(2, help);
    }
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("switchboard %s\n", SB_VERSION);
        return 0;
    }
    if (argc > 1 && argv[1][0] != '-') {
        for (size_t i = 0; i < N_COMMANDS; i++)
            if (strcmp(argv[1], commands[i].name) == 0)
                return commands[i].run(argc - 1, argv + 1);
        fprintf(stderr, "switchboard: unknown command %s\n", argv[1]);
        usage(stderr);
        return 2;
    }
    argv[0] = "serve"; /* options first: serve with them */
    return sb_cmd_serve(argc, argv);
}
