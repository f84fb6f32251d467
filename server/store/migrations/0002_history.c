/*
 * Schema 1 -> 2: adds the "history" and "audit" databases. Every document of a version-1 store
 * gets one history entry, its current value at the revision of its last change, so that the
 * history of every document starts where the store's memory does.
 */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "migrations.h"

int sb_migration_0002_history(MDB_txn *txn)
{
    MDB_dbi docs, history, audit;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc;
    if ((rc = mdb_dbi_open(txn, "docs", MDB_CREATE, &docs)) != 0 ||
        (rc = mdb_dbi_open(txn, "history", MDB_CREATE, &history)) != 0 ||
        (rc = mdb_dbi_open(txn, "audit", MDB_CREATE, &audit)) != 0 ||
        (rc = mdb_cursor_open(txn, docs, &cur)) != 0)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        uint64_t rev;
        if (v.mv_size <= sizeof rev || k.mv_size > 400)
            continue;
        memcpy(&rev, v.mv_data, sizeof rev);
        json_t *value = json_loadb((char *)v.mv_data + sizeof rev, v.mv_size - sizeof rev, 0, NULL);
        if (value == NULL)
            continue;
        json_t *entry =
            json_pack("{s:I, s:n, s:s, s:s, s:s, s:n, s:o}", "revision", (json_int_t)rev, "time",
                      "actor", "migration", "reason", "history begins at schema version 2", "op",
                      "put", "trace_id", "value", value);
        char *text = json_dumps(entry, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(entry);
        /* history key: "<kind>/<id>" NUL big-endian revision */
        unsigned char key[420];
        memcpy(key, k.mv_data, k.mv_size);
        key[k.mv_size] = 0;
        for (int i = 0; i < 8; i++)
            key[k.mv_size + 1 + i] = (unsigned char)(rev >> (56 - 8 * i));
        MDB_val hk = {k.mv_size + 9, key}, hv = {text ? strlen(text) : 0, text};
        rc = text ? mdb_put(txn, history, &hk, &hv, 0) : ENOMEM;
        free(text);
        if (rc != 0)
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}
