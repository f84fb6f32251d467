/*
 * switchboard migrate [--status]: where the store stands against this binary's schema, and the
 * pending migrations run without serving (serve runs them at every start too).
 */
#include "cli.h"
#include "store/migrations/migrations.h"
#include "store/store.h"

#include <stdio.h>
#include <unistd.h>

static const char usage[] =
    "usage: switchboard migrate [--status] [--data DIR]\n"
    "\n"
    "Migrates the store to this binary's schema (a copy of it is saved first, in\n"
    "DIR/backup-schema-<version>-<time>), without serving.\n"
    "\n"
    "  --status             only show where the store stands\n"
    "  --data DIR           data directory. Default ./switchboard-data\n"
    "  -h, --help           this text\n";

int sb_cmd_migrate(int argc, char **argv)
{
    enum { STATUS = 256, DATA };
    static const struct option longopts[] = {{"status", no_argument, NULL, STATUS},
                                             {"data", required_argument, NULL, DATA},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *data = SB_DATA_DEFAULT;
    bool status = false;
    int c;
    optind = 1;
    while ((c = sb_cli_option("migrate", argc, argv, longopts)) != -1) {
        if (c == STATUS)
            status = true;
        else if (c == DATA)
            data = optarg;
        else if (c == 'h')
            return fputs(usage, stdout), 0;
        else
            return 2;
    }
    if (optind < argc)
        return sb_cli_fail("unexpected argument %s (see switchboard migrate --help)", argv[optind]),
               2;
    unsigned version;
    int rc = sb_store_schema(data, &version);
    if (rc != 0)
        return sb_cli_fail("cannot read the store: %s", sb_store_strerror(rc));
    printf("store:         %s\n", data);
    printf("schema:        %u%s\n", version, version == 0 ? " (no store yet)" : "");
    printf("this binary:   %u\n", SB_SCHEMA_VERSION);
    if (version > SB_SCHEMA_VERSION) {
        printf("state:         newer than this binary; it will not open it\n");
        return 1;
    }
    bool pending = false;
    for (unsigned i = 0; i < sb_n_migrations; i++)
        if (version != 0 && sb_migrations[i].version > version) {
            printf("pending:       %s\n", sb_migrations[i].name);
            pending = true;
        }
    if (!pending)
        printf("state:         up to date\n");
    if (status || !pending)
        return 0;
    int lock = sb_cli_lock(data);
    if (lock < 0)
        return sb_cli_fail("a switchboard is serving %s: stop it first (it migrates at start)",
                           data);
    sb_store *store;
    rc = sb_store_open(data, &store);
    close(lock);
    if (rc != 0)
        return sb_cli_fail("migration failed, the store is unchanged: %s", sb_store_strerror(rc));
    sb_store_close(store);
    printf("state:         migrated to %u\n", SB_SCHEMA_VERSION);
    return 0;
}
