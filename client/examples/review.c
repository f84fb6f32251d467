/*
 * review: a workload as switchboard expects one. Copy it and change call_model().
 *
 *     echo "Review this diff: ..." | review security
 *
 * It asks switchboard for its role's route, calls the primary model and walks the fallbacks
 * while calls fail, and tags every log line with the route's ETag, so a bad answer can be traced
 * to the exact configuration that chose the model. The models are called through any
 * OpenAI-compatible gateway that takes "<provider>/<model>" ids (OpenRouter, LiteLLM, ...):
 *
 *     SWITCHBOARD_URL   the switchboard server (default http://127.0.0.1:8080)
 *     LLM_API_URL       the gateway, e.g. https://openrouter.ai/api/v1
 *     LLM_API_KEY       its key (optional)
 *
 * Build: cc review.c $(pkg-config --cflags --libs libswitchboard libcurl jansson)
 * Exit status: 0 a model answered; 1 every model failed; 2 no route or no answer from switchboard.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <switchboard.h>

/* Used when switchboard has never answered this process: ship what you would hard-code. */
static const char defaults[] = "{\"security\": {\"primary\": \"anthropic/claude-opus-4-7\","
                               "                \"fallbacks\": [\"openai/gpt-5.3-codex\"]}}";

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
    FILE *out = arg;
    return fwrite(data, size, n, out);
}

/* One model call: 0 and the reply on stdout, or -1 with *why set. Replace it with yours. */
static int call_model(const char *model, const char *prompt, char *why, size_t why_len)
{
    const char *base = getenv("LLM_API_URL"), *key = getenv("LLM_API_KEY");
    if (base == NULL) {
        snprintf(why, why_len, "LLM_API_URL is not set");
        return -1;
    }
    char url[1024], *reply = NULL, auth[1024];
    size_t reply_len = 0;
    snprintf(url, sizeof url, "%s/chat/completions", base);
    json_t *req = json_pack("{s:s, s:[{s:s, s:s}]}", "model", model, "messages", "role", "user",
                            "content", prompt);
    char *body = json_dumps(req, JSON_COMPACT);
    FILE *out = open_memstream(&reply, &reply_len);
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (key != NULL) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
        headers = curl_slist_append(headers, auth);
    }
    CURL *curl = curl_easy_init();
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, out);
    CURLcode rc = curl_easy_perform(curl);
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    fclose(out);
    int result = -1;
    json_t *answer = rc == CURLE_OK ? json_loads(reply, 0, NULL) : NULL;
    json_t *content = json_object_get(
        json_object_get(json_array_get(json_object_get(answer, "choices"), 0), "message"),
        "content");
    if (rc != CURLE_OK)
        snprintf(why, why_len, "%s", curl_easy_strerror(rc));
    else if (code != 200)
        snprintf(why, why_len, "HTTP %ld", code);
    else if (!json_is_string(content))
        snprintf(why, why_len, "no choices[0].message.content in the reply");
    else {
        puts(json_string_value(content));
        result = 0;
    }
    json_decref(answer);
    curl_easy_cleanup(curl);
    curl_slist_free_all(headers);
    free(reply);
    free(body);
    json_decref(req);
    return result;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: review ROLE < prompt\n");
        return 2;
    }
    const char *role = argv[1];
    char prompt[65536];
    size_t n = fread(prompt, 1, sizeof prompt - 1, stdin);
    prompt[n] = '\0';

    sb_options opts = SB_OPTIONS_INIT;
    opts.defaults_json = defaults;
    sb_client *sb;
    sb_route *route;
    sb_status s = sb_client_open(&opts, &sb);
    if (s == SB_OK)
        s = sb_route_get(sb, role, &route);
    if (s != SB_OK) {
        /* SB_NO_ROUTE: every provider of this role is switched off; do not guess one. */
        fprintf(stderr, "role=%s error=\"%s\"\n", role, sb_strerror(s));
        if (s == SB_NO_ROUTE)
            sb_route_release(route);
        sb_client_close(sb);
        return 2;
    }
    const char *etag = sb_route_etag(route);
    const char *source = sb_source_name(sb_route_source(route));
    int status = 1;
    for (size_t i = 0; i <= sb_route_fallback_count(route) && status != 0; i++) {
        const char *model = i == 0 ? sb_route_primary(route) : sb_route_fallback(route, i - 1);
        char why[256] = "";
        if (call_model(model, prompt, why, sizeof why) == 0) {
            fprintf(stderr, "role=%s etag=%s source=%s attempt=%zu model=%s result=ok\n", role,
                    etag, source, i + 1, model);
            status = 0;
        } else {
            fprintf(stderr,
                    "role=%s etag=%s source=%s attempt=%zu model=%s result=failed why=\"%s\"\n",
                    role, etag, source, i + 1, model, why);
        }
    }
    sb_route_release(route);
    sb_client_close(sb);
    return status;
}
