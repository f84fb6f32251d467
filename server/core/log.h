/*
 * Structured logs: one line per event on stderr, JSON by default ({"time", "level", "event",
 * ...fields}) or "time level event key=value ..." for people. Thread-safe: each line is
 * written with one write(2).
 */
#ifndef SB_LOG_H
#define SB_LOG_H

#include <jansson.h>
#include <stdbool.h>

void sb_log_set_text(bool text);

/** Logs event with fields (taken over; may be NULL). level: "info", "warn" or "error". */
void sb_log(const char *level, const char *event, json_t *fields);

#endif
