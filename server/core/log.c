/* Structured logging: see log.h. */
#include "log.h"
#include "util.h"

#include <stdatomic.h>
#include <unistd.h>

static atomic_bool as_text;

void sb_log_set_text(bool text)
{
    atomic_store(&as_text, text);
}

/* A string that reads unambiguously unquoted in a text line: no spaces, controls or quotes. */
static bool plain(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || *s == '"' || *s == '=' || *s == 0x7f)
            return false;
    return true;
}

void sb_log(const char *level, const char *event, json_t *fields)
{
    char now[32];
    sb_now_rfc3339(now);
    sb_buf line = {0};
    if (atomic_load(&as_text)) {
        sb_buf_adds(&line, now);
        sb_buf_adds(&line, " ");
        sb_buf_adds(&line, level);
        sb_buf_adds(&line, " ");
        sb_buf_adds(&line, event);
        const char *k;
        json_t *v;
        json_object_foreach (fields, k, v) {
            sb_buf_adds(&line, " ");
            sb_buf_adds(&line, k);
            sb_buf_adds(&line, "=");
            if (json_is_string(v) && plain(json_string_value(v)))
                sb_buf_adds(&line, json_string_value(v));
            else /* quoted and escaped: a reason with a newline cannot forge a log line */
                sb_buf_add_json(&line, v, JSON_ENCODE_ANY);
        }
    } else {
        json_t *o = sb_json_check(
            json_pack("{s:s, s:s, s:s}", "time", now, "level", level, "event", event));
        if (fields != NULL)
            json_object_update(o, fields);
        sb_buf_add_json(&line, o, 0);
        json_decref(o);
    }
    sb_buf_add(&line, "\n", 1);
    ssize_t ignored = write(STDERR_FILENO, line.p, line.len);
    (void)ignored;
    free(line.p);
    json_decref(fields);
}
