/* Structured logs: one JSON object per line on stderr. Never prompt content or secrets. */
#ifndef DW_LOG_H
#define DW_LOG_H

enum { DW_LOG_ERROR, DW_LOG_WARN, DW_LOG_INFO, DW_LOG_DEBUG };

extern int dw_log_level;

/* Parses "error", "warn", "info" or "debug". Returns the level or -1. */
int dw_log_parse_level(const char *s);
/* Writes {"ts":...,"level":...,<fields>} where fields is a JSON object body without braces
 * (e.g. "\"event\":\"request\",\"status\":200"), if level is enabled. */
void dw_log(int level, const char *fields);

#endif
