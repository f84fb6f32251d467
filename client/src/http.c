/*
 * One HTTP exchange over libcurl. An sbc_http is one easy handle, and so one kept-alive
 * connection; it is used by one thread at a time (the client keeps a small pool of them, sbctl
 * has one). Nothing here retries: the caller decides what a failure means.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <pthread.h>

#include "internal.h"

struct sbc_http {
    CURL *curl;
    struct curl_slist *headers; /* of the request in flight */
    char error[CURL_ERROR_SIZE];
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_status = CURLE_FAILED_INIT;

/* curl_global_init is not thread-safe on every libcurl, so the first handle runs it once. */
static void global_init(void)
{
    global_status = curl_global_init(CURL_GLOBAL_DEFAULT);
}

sbc_http *sbc_http_new(void)
{
    pthread_once(&global_once, global_init);
    if (global_status != CURLE_OK)
        return NULL;
    sbc_http *h = calloc(1, sizeof *h);
    if (h != NULL && (h->curl = curl_easy_init()) == NULL) {
        free(h);
        h = NULL;
    }
    return h;
}

void sbc_http_free(sbc_http *h)
{
    if (h != NULL) {
        curl_easy_cleanup(h->curl);
        free(h);
    }
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    sbc_response *res = arg;
    size_t len = size * n;
    if (res->len + len > SBC_BODY_MAX)
        return 0; /* ends the transfer with CURLE_WRITE_ERROR */
    char *body = realloc(res->body, res->len + len + 1);
    if (body == NULL)
        return 0;
    memcpy(body + res->len, data, len);
    res->body = body;
    res->len += len;
    body[res->len] = '\0';
    return len;
}

/* Keeps the headers we read; libcurl hands them over one line at a time, with their CRLF. */
static size_t on_header(char *line, size_t size, size_t n, void *arg)
{
    sbc_response *res = arg;
    size_t len = size * n, name_len;
    const char *colon = memchr(line, ':', len);
    if (colon == NULL)
        return len;
    name_len = (size_t)(colon - line);
    const char *v = colon + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    size_t vlen = (size_t)(end - v);
    if (name_len == 4 && strncasecmp(line, "etag", 4) == 0 && vlen < sizeof res->etag) {
        memcpy(res->etag, v, vlen);
        res->etag[vlen] = '\0';
    } else if (name_len == 22 && strncasecmp(line, "x-switchboard-revision", 22) == 0) {
        char buf[24];
        if (vlen < sizeof buf) {
            memcpy(buf, v, vlen);
            buf[vlen] = '\0';
            res->revision = strtoll(buf, NULL, 10);
        }
    }
    return len;
}

/* Adds "name: value" to the list; false when out of memory. */
static bool add_header(struct curl_slist **list, const char *name, const char *value)
{
    if (value == NULL)
        return true;
    size_t n = strlen(name) + strlen(value) + 3;
    char *line = malloc(n);
    if (line == NULL)
        return false;
    snprintf(line, n, "%s: %s", name, value);
    struct curl_slist *l = curl_slist_append(*list, line);
    free(line);
    if (l == NULL)
        return false;
    *list = l;
    return true;
}

int sbc_request_prepare(sbc_http *h, const sbc_request *req, sbc_response *res)
{
    memset(res, 0, sizeof *res);
    res->revision = -1;
    CURL *curl = h->curl;
    struct curl_slist *headers = NULL;
    char auth[16 + 1024];
    bool ok = true;
    if (req->token != NULL) {
        snprintf(auth, sizeof auth, "Bearer %s", req->token);
        ok = add_header(&headers, "Authorization", auth);
    }
    ok = ok && add_header(&headers, "If-None-Match", req->if_none_match) &&
         add_header(&headers, "If-Match", req->if_match) &&
         add_header(&headers, "X-Change-Reason", req->reason) &&
         add_header(&headers, "Accept", "application/json") &&
         add_header(&headers, "Content-Type", req->body ? "application/json" : NULL) &&
         /* libcurl would otherwise wait a second for "100 Continue" before a large body. */
         add_header(&headers, "Expect", "");
    if (!ok) {
        curl_slist_free_all(headers);
        snprintf(res->error, sizeof res->error, "out of memory");
        return -1;
    }
    h->error[0] = '\0';
    h->headers = headers;
    curl_easy_reset(curl); /* keeps the connection, forgets the last request's options */
    curl_easy_setopt(curl, CURLOPT_URL, req->url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req->method ? req->method : "GET");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "libswitchboard/" SB_VERSION_STRING);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for DNS timeouts */
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)req->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, res);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, res);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, h->error);
    if (req->body != NULL) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    }
    return 0;
}

int sbc_request_finish(sbc_http *h, int result, sbc_response *res)
{
    CURLcode rc = (CURLcode)result;
    curl_slist_free_all(h->headers);
    h->headers = NULL;
    if (rc != CURLE_OK) {
        snprintf(res->error, sizeof res->error, "%s",
                 h->error[0] ? h->error : curl_easy_strerror(rc));
        free(res->body);
        res->body = NULL;
        res->len = 0;
        return -1;
    }
    curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &res->code);
    return 0;
}

void *sbc_http_easy(sbc_http *h)
{
    return h->curl;
}

int sbc_request_send(sbc_http *h, const sbc_request *req, sbc_response *res)
{
    if (sbc_request_prepare(h, req, res) != 0)
        return -1;
    return sbc_request_finish(h, curl_easy_perform(h->curl), res);
}

void sbc_response_free(sbc_response *res)
{
    free(res->body);
    res->body = NULL;
    res->len = 0;
}

char *sbc_url_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = malloc(strlen(s) * 3 + 1), *p = out;
    if (out == NULL)
        return NULL;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            strchr("-._~", ch) != NULL) {
            *p++ = (char)ch;
        } else {
            *p++ = '%';
            *p++ = hex[ch >> 4];
            *p++ = hex[ch & 15];
        }
    }
    *p = '\0';
    return out;
}
