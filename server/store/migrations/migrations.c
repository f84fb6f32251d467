/* The list of migrations, in order. */
#include "migrations.h"

const sb_migration sb_migrations[] = {
    {2, "0002_history: history and audit databases; current documents become first versions",
     sb_migration_0002_history},
};
const unsigned sb_n_migrations = sizeof sb_migrations / sizeof sb_migrations[0];
