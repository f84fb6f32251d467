/*
 * Store migrations: each takes the LMDB store from version - 1 to version inside the caller's
 * write transaction. They are part of the store layer (server/store.c runs them in order at
 * start, after saving a copy of the environment) and the only other code that sees LMDB.
 * Add one: write NNNN_name.c with a function of this type, list it in migrations.c and in
 * meson.build, and raise SB_SCHEMA_VERSION in server/store.h.
 */
#ifndef SB_MIGRATIONS_H
#define SB_MIGRATIONS_H

#include <lmdb.h>

typedef struct sb_migration {
    unsigned version; /* the version the store is at after it */
    const char *name;
    int (*apply)(MDB_txn *txn); /* 0, or an LMDB error */
} sb_migration;

extern const sb_migration sb_migrations[];
extern const unsigned sb_n_migrations;

int sb_migration_0002_history(MDB_txn *txn);

#endif
