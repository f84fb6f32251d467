/*
 * The promise of a cached lookup: no system call and no allocation. A child process fills the
 * cache, then locks itself into seccomp's strict mode, where any system call but read, write and
 * exit kills it, and makes 100,000 lookups while this file's malloc counts allocations. (The
 * counting malloc is left out of the sanitizer build, whose runtime owns malloc; the seccomp
 * check runs in both.)
 */
#include <criterion/criterion.h>
#include <linux/seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

static _Atomic long allocations;
static _Atomic int counting;

#ifdef SB_COUNT_MALLOC
void *__libc_malloc(size_t);
void *__libc_calloc(size_t, size_t);
void *__libc_realloc(void *, size_t);
void *__libc_memalign(size_t, size_t);
void __libc_free(void *);

static void count(void)
{
    if (atomic_load_explicit(&counting, memory_order_relaxed))
        atomic_fetch_add(&allocations, 1);
}
void *malloc(size_t n)
{
    count();
    return __libc_malloc(n);
}
void *calloc(size_t n, size_t size)
{
    count();
    return __libc_calloc(n, size);
}
void *realloc(void *p, size_t n)
{
    count();
    return __libc_realloc(p, n);
}
void *aligned_alloc(size_t align, size_t n)
{
    count();
    return __libc_memalign(align, n);
}
int posix_memalign(void **p, size_t align, size_t n)
{
    count();
    *p = __libc_memalign(align, n);
    return *p ? 0 : 12;
}
void free(void *p)
{
    __libc_free(p);
}
#endif

static void fetch(sb_client *c, void *data, const char *role, const char *etag, sbc_response *res)
{
    static const char body[] =
        "{\"role\":\"security\",\"tenant\":null,\"primary\":\"a/m1\",\"fallbacks\":[\"b/m2\"],"
        "\"dropped\":[]}";
    memset(res, 0, sizeof *res);
    res->code = 200;
    strcpy(res->etag, "\"e1\"");
    res->body = strdup(body);
    res->len = strlen(body);
}

Test(hotpath, a_cached_lookup_makes_no_syscall_and_no_allocation)
{
    sb_client *c;
    cr_assert_eq(sb_client_open(NULL, &c), SB_OK);
    sbc_client_set_transport(c, fetch, NULL);
    sb_route *r;
    cr_assert_eq(sb_route_get(c, "security", &r), SB_OK);
    sb_route_release(r);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        long result[2] = {0, 0}; /* lookups that were hits, allocations */
        atomic_store(&counting, 1);
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) != 0)
            syscall(SYS_exit, 3);
        for (int i = 0; i < 100000; i++) {
            sb_route *x = NULL;
            if (sb_route_get(c, "security", &x) == SB_OK &&
                sb_route_source(x) == SB_SOURCE_CACHED && strcmp(sb_route_primary(x), "a/m1") == 0)
                result[0]++;
            sb_route_release(x);
        }
        result[1] = atomic_load(&allocations);
        if (write(fds[1], result, sizeof result) != sizeof result)
            syscall(SYS_exit, 4);
        syscall(SYS_exit, 0); /* exit_group, which _exit uses, is not allowed in strict mode */
    }
    close(fds[1]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status),
              "the lookups made a system call: the child was killed by signal %d",
              WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    cr_assert_eq(WEXITSTATUS(status), 0);
    long result[2];
    cr_assert_eq(read(fds[0], result, sizeof result), sizeof result);
    cr_assert_eq(result[0], 100000, "every lookup was a cached hit: %ld", result[0]);
#ifdef SB_COUNT_MALLOC
    cr_assert_eq(result[1], 0, "%ld allocations in 100000 cached lookups", result[1]);
#endif
    close(fds[0]);
    sb_client_close(c);
}
