/*
 * The storage engines behind the core's store interface (core/store.h). This folder is the only
 * place that sees an engine's library: it may include core/ (the interface, util) and LMDB.
 *
 * LMDB (lmdb.c), the embedded default: one environment in the data directory (schema version 2,
 * see migrations/README.md) with the named databases
 *   docs    "<kind>/<id>"              -> u64 revision of the last change (little endian) + JSON
 *   history "<kind>/<id>" NUL be64 rev -> JSON {"revision", "time", "actor", "reason",
 *                                          "trace_id", "op", "value"} (value null: deleted)
 *   audit   be64 rev be32 index        -> JSON {"revision", "time", "actor", "reason",
 *                                          "trace_id", "key", "op"}
 *   meta    "revision"                 -> u64, the store revision (0: nothing written yet)
 *           "schema"                   -> u64, the layout version
 *           "tokens"                   -> u64, bumped by every token change
 *   tokens  "<name>"                   -> JSON {"scope", "sha256", "created"}
 *
 */
#ifndef SB_STORE_H
#define SB_STORE_H

#include "core/store.h"

#define SB_SCHEMA_VERSION 2
#define SB_STORE_TOO_NEW  (-1) /* the store's schema is newer than this binary */

/**
 * Opens (creating if needed) the LMDB store in directory dir. A store at an older schema version
 * is migrated first: a compact copy of it is saved in dir/backup-schema-<from>-<unix time>, then
 * every pending migration runs, in order, in one write transaction.
 * @return 0, or an error; SB_STORE_TOO_NEW when the store's schema is newer than this binary
 */
int sb_store_open(const char *dir, sb_store **out);

/** The schema version of the store in dir without changing it (0: no store there yet). */
int sb_store_schema(const char *dir, unsigned *version);

/** What an error of sb_store_open, sb_store_schema or a store's function means. */
const char *sb_store_strerror(int err);

#endif
