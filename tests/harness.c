/* End-to-end harness: see harness.h. */
#include "harness.h"
#include "port.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *bin(void)
{
    const char *b = getenv("SWITCHBOARD_BIN");
    cr_assert_not_null(b, "SWITCHBOARD_BIN is not set (run the tests through meson)");
    return b;
}

/* Whether port can be bound on 127.0.0.1 now. */
/* A port below the ephemeral range (port.h), else any free one. */
int free_port(void)
{
    int port = low_free_port();
    if (port != 0)
        return port;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert(bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
              getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* The reaper: a shell in its own session that reads paths on its stdin until this process has
 * ended, however it ends (a failed assertion, a crash, a timeout's SIGTERM or SIGKILL to the
 * whole process group), and then removes them. The write end is close-on-exec, so only this
 * process holds it. */
static int reaper = -1;

static void remove_when_done(const char *path)
{
    if (reaper < 0) {
        int p[2];
        cr_assert(pipe2(p, O_CLOEXEC) == 0);
        pid_t pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0) {
            setsid();
            dup2(p[0], 0);
            int null = open("/dev/null", O_RDWR);
            dup2(null, 1);
            dup2(null, 2);
            close_range(3, ~0U, 0);
            execl("/bin/sh", "sh", "-c",
                  "while read -r p; do set -- \"$@\" \"$p\"; done;"
                  "rm -rf -- \"$@\" || { sleep 1; rm -rf -- \"$@\"; }",
                  "reaper", (char *)NULL);
            _exit(127);
        }
        close(p[0]);
        reaper = p[1];
        signal(SIGPIPE, SIG_IGN); /* should the reaper be gone, a write fails, nothing more */
    }
    dprintf(reaper, "%s\n", path);
}

void temp_dir(char *dir, size_t len, const char *name)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, len, "%s/sb-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
    cr_assert_not_null(mkdtemp(dir), "mkdtemp %s: %s", dir, strerror(errno));
    remove_when_done(dir);
}

void tls_cert(char cert[300], char key[300])
{
    char dir[256], cmd[1024];
    temp_dir(dir, sizeof dir, "tls");
    snprintf(cert, 300, "%s/cert.pem", dir);
    snprintf(key, 300, "%s/key.pem", dir);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
             "-keyout %s -out %s 2>/dev/null",
             key, cert);
    cr_assert_eq(system(cmd), 0, "openssl could not make a certificate");
}

static bool port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

static void spawn(server *s)
{
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", s->port);
    const char *argv[40] = {bin(), "--listen", listen, "--data", s->dir, "--threads", "2"};
    int n = 7;
    for (int i = 0; i < s->n_args; i++)
        argv[n++] = s->args[i];
    pid_t parent = getpid();
    s->pid = fork();
    cr_assert(s->pid >= 0);
    if (s->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int fd = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(fd, 2);
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
}

/* Waits until the server accepts connections; false if it exited first, or after 30 s (a
 * sanitizer build on a busy machine takes its time). */
static bool wait_up(server *s)
{
    for (double start = now_s(); now_s() - start < 30;) {
        int status;
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            s->pid = 0;
            return false;
        }
        if (port_open(s->port))
            return true;
        usleep(10000);
    }
    return false;
}

void server_start(server *s, const char *const *extra)
{
    server_start_on(s, 0, extra);
}

void server_start_on(server *s, int port, const char *const *extra)
{
    memset(s, 0, sizeof *s);
    temp_dir(s->dir, sizeof s->dir, "e2e");
    snprintf(s->log, sizeof s->log, "%s.log", s->dir);
    remove_when_done(s->log);
    for (int i = 0; extra && extra[i]; i++)
        s->args[s->n_args++] = extra[i];
    for (int attempt = 0; attempt < 3; attempt++) { /* the free port may be taken meanwhile */
        s->port = port ? port : free_port();
        spawn(s);
        if (wait_up(s))
            break;
        server_stop(s, SIGKILL);
    }
    cr_assert(s->pid > 0, "switchboard did not start; see %s", s->log);
    char path[300];
    snprintf(path, sizeof path, "%s/admin.token", s->dir);
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        if (fgets(s->token, sizeof s->token, f) != NULL)
            s->token[strcspn(s->token, "\n")] = '\0';
        fclose(f);
    }
}

void server_restart(server *s)
{
    spawn(s);
    cr_assert(wait_up(s), "switchboard did not restart; see %s", s->log);
}

int server_stop(server *s, int sig)
{
    if (s->pid <= 0)
        return -1;
    kill(s->pid, sig);
    int status = 0;
    for (double start = now_s(); now_s() - start < 10;) {
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            s->pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -100 - WTERMSIG(status);
        }
        usleep(10000);
    }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &status, 0);
    s->pid = 0;
    return -1;
}

const char *server_log(const server *s)
{
    static char buf[8192];
    buf[0] = '\0';
    FILE *f = fopen(s->log, "r");
    if (f == NULL)
        return buf;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, size > (long)sizeof buf - 1 ? size - (long)sizeof buf + 1 : 0, SEEK_SET);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

void server_cleanup(server *s)
{
    server_stop(s, SIGKILL);
    if (s->dir[0]) {
        nftw(s->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        remove(s->log);
    }
}

static size_t on_body(char *p, size_t size, size_t n, void *data)
{
    char **body = data;
    size_t old = *body ? strlen(*body) : 0;
    *body = realloc(*body, old + size * n + 1);
    memcpy(*body + old, p, size * n);
    (*body)[old + size * n] = '\0';
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *data)
{
    size_t len = size * n;
    char *colon = memchr(p, ':', len);
    if (colon != NULL) {
        char name[128], value[1024];
        size_t nl = (size_t)(colon - p) < sizeof name - 1 ? (size_t)(colon - p) : sizeof name - 1;
        for (size_t i = 0; i < nl; i++)
            name[i] = (char)tolower((unsigned char)p[i]);
        name[nl] = '\0';
        const char *v = colon + 1, *end = p + len;
        while (v < end && *v == ' ')
            v++;
        while (end > v && (end[-1] == '\r' || end[-1] == '\n'))
            end--;
        size_t vl = (size_t)(end - v) < sizeof value - 1 ? (size_t)(end - v) : sizeof value - 1;
        memcpy(value, v, vl);
        value[vl] = '\0';
        json_object_set_new(data, name, json_string(value));
    }
    return len;
}

resp request(const server *s, const char *method, const char *path, const char *body,
             const char *const *headers)
{
    resp r = {0};
    char url[2048];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", s->port, path);
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    for (int i = 0; headers && headers[i]; i++)
        h = curl_slist_append(h, headers[i]);
    h = curl_slist_append(h, "Expect:");
    r.headers = json_object();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r.headers);
    /* Generous: a write waits for an fsync, and on a busy machine's disk one took over 15 s. */
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60000L);
    CURLcode rc = curl_easy_perform(c);
    cr_assert_eq(rc, CURLE_OK, "%s %s: %s\nthe end of the server's log:\n%s", method, path,
                 curl_easy_strerror(rc), server_log(s));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (r.body == NULL)
        r.body = strdup("");
    r.json = json_loads(r.body, JSON_DECODE_ANY, NULL);
    return r;
}

resp admin(const server *s, const char *method, const char *path, const char *body,
           const char *const *headers)
{
    char auth[200];
    const char *all[16];
    int n = 0;
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", s->token);
    all[n++] = auth;
    for (int i = 0; headers && headers[i] && n < 15; i++)
        all[n++] = headers[i];
    all[n] = NULL;
    return request(s, method, path, body, all);
}

const char *header(const resp *r, const char *name)
{
    return json_string_value(json_object_get(r->headers, name));
}

void resp_free(resp *r)
{
    free(r->body);
    json_decref(r->json);
    json_decref(r->headers);
}

/* Parses what has arrived; true when it holds a whole answer (closed: nothing more will come). */
static bool raw_parse(const char *buf, size_t len, bool closed, raw_resp *r)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (end == NULL || len < 12 || memcmp(buf, "HTTP/1.", 7) != 0)
        return false;
    size_t head_len = (size_t)(end - buf), body_at = head_len + 4;
    if (buf[9] == '1') /* an interim answer (100 Continue): the real one follows */
        return raw_parse(buf + body_at, len - body_at, closed, r);
    long want = -1;
    json_t *headers = json_object();
    for (const char *line = memchr(buf, '\n', head_len); line && line < end;
         line = memchr(line, '\n', (size_t)(end - line))) {
        line++;
        const char *eol = memmem(line, (size_t)(end + 2 - line), "\r\n", 2);
        const char *colon = memchr(line, ':', (size_t)(eol - line));
        if (colon == NULL)
            continue;
        char name[128];
        size_t nl =
            (size_t)(colon - line) < sizeof name - 1 ? (size_t)(colon - line) : sizeof name - 1;
        for (size_t i = 0; i < nl; i++)
            name[i] = (char)tolower((unsigned char)line[i]);
        name[nl] = '\0';
        const char *v = colon + 1;
        while (v < eol && *v == ' ')
            v++;
        json_object_set_new(headers, name, json_stringn_nocheck(v, (size_t)(eol - v)));
        if (strcmp(name, "content-length") == 0)
            want = strtol(v, NULL, 10);
    }
    if (want >= 0 ? len - body_at < (size_t)want : !closed) {
        json_decref(headers);
        return false;
    }
    size_t body_len = want >= 0 ? (size_t)want : len - body_at;
    r->status = atoi(buf + 9);
    r->head = strndup(buf, head_len);
    r->body = malloc(body_len + 1);
    memcpy(r->body, buf + body_at, body_len);
    r->body[body_len] = '\0';
    r->body_len = body_len;
    r->headers = headers;
    r->json = json_loadb(r->body, body_len, JSON_DECODE_ANY, NULL);
    return true;
}

int raw_request(const server *s, const char *bytes, size_t len, int timeout_ms, raw_resp *out)
{
    memset(out, 0, sizeof *out);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)s->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    size_t sent = 0, got = 0, cap = 65536;
    char *buf = malloc(cap);
    bool sending = true, closed = false, whole = false;
    double deadline = now_s() + timeout_ms / 1000.0;
    while (!whole && !closed) {
        if (sending && sent == len) {
            shutdown(fd, SHUT_WR); /* the server sees the end: a short body is not waited for */
            sending = false;
        }
        int left = (int)((deadline - now_s()) * 1000);
        struct pollfd p = {.fd = fd, .events = POLLIN | (sending ? POLLOUT : 0)};
        if (left <= 0 || poll(&p, 1, left) <= 0)
            break;
        if (sending && (p.revents & (POLLOUT | POLLERR))) {
            ssize_t k = send(fd, bytes + sent, len - sent, MSG_NOSIGNAL);
            if (k > 0)
                sent += (size_t)k;
            else if (k < 0 && errno != EAGAIN && errno != EINTR)
                sending = false; /* the server stopped reading: its answer may be there */
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            if (got + 4096 > cap)
                buf = realloc(buf, cap *= 2);
            ssize_t k = read(fd, buf + got, cap - got);
            if (k > 0)
                got += (size_t)k;
            else if (k == 0 || (errno != EAGAIN && errno != EINTR))
                closed = true;
        }
        whole = raw_parse(buf, got, closed, out);
    }
    if (!whole && !raw_parse(buf, got, true, out)) {
        out->timed_out = !closed;
        out->head = strdup("");
        out->body = strndup(buf, got); /* whatever came, for the failure message */
        out->body_len = strlen(out->body);
        out->headers = json_object();
    }
    free(buf);
    close(fd);
    return 0;
}

void raw_resp_free(raw_resp *r)
{
    free(r->head);
    free(r->body);
    json_decref(r->headers);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

int run_switchboard(const server *s, const char *const *args, char *out, size_t outlen)
{
    const char *argv[32] = {bin()};
    int n = 1;
    for (int i = 0; args[i]; i++)
        argv[n++] = args[i];
    argv[n++] = "--data";
    argv[n++] = s->dir;
    return run_program(argv, NULL, out, outlen, NULL, 0);
}

/* Reads what is there into buf (NULL: thrown away); false at end of file. */
static bool drain(int fd, char *buf, size_t len, size_t *got)
{
    char scratch[4096];
    char *dst = buf && *got + 1 < len ? buf + *got : scratch;
    size_t room = buf && *got + 1 < len ? len - 1 - *got : sizeof scratch;
    ssize_t k = read(fd, dst, room);
    if (k > 0 && dst != scratch)
        *got += (size_t)k;
    if (buf)
        buf[*got] = '\0';
    return k > 0 || (k < 0 && errno == EINTR);
}

int run_program(const char *const *argv, const char *const *env, char *out, size_t outlen,
                char *err, size_t errlen)
{
    int o[2], e[2];
    cr_assert(pipe(o) == 0 && pipe(e) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(o[1], 1);
        dup2(err ? e[1] : o[1], 2);
        close(o[0]);
        close(e[0]);
        for (int i = 0; env && env[i]; i++)
            putenv((char *)env[i]);
        int null = open("/dev/null", O_RDONLY);
        dup2(null, 0);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(o[1]);
    close(e[1]);
    /* Both pipes at once, so a child that fills one while we wait on the other cannot hang. */
    struct pollfd fds[2] = {{.fd = o[0], .events = POLLIN}, {.fd = e[0], .events = POLLIN}};
    size_t got[2] = {0, 0};
    if (out)
        out[0] = '\0';
    if (err)
        err[0] = '\0';
    int open_fds = 2;
    while (open_fds > 0) {
        if (poll(fds, 2, 30000) <= 0)
            break;
        for (int i = 0; i < 2; i++)
            if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP)) &&
                !drain(fds[i].fd, i ? err : out, i ? errlen : outlen, &got[i])) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            }
    }
    for (int i = 0; i < 2; i++)
        if (fds[i].fd >= 0)
            close(fds[i].fd);
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

long long revision_of(const server *s)
{
    resp r = request(s, "GET", "/readyz", NULL, NULL);
    long long rev = json_integer_value(json_object_get(r.json, "revision"));
    resp_free(&r);
    return rev;
}

char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = calloc(1, (size_t)size + 1);
    cr_assert_eq(fread(text, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    return text;
}

double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

double metric_in(const char *text, const char *sample)
{
    size_t n = strlen(sample);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, sample, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    return -1;
}

double metric_now(const server *s, const char *sample)
{
    resp r = request(s, "GET", "/metrics", NULL, NULL);
    double v = r.status == 200 ? metric_in(r.body, sample) : -1;
    resp_free(&r);
    return v;
}
