#include "proxy/log.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

int dw_log_level = DW_LOG_INFO;

static const char *const names[] = {"error", "warn", "info", "debug"};

int dw_log_parse_level(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

void dw_log(int level, const char *fields)
{
    if (level > dw_log_level)
        return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[32];
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    /* one fprintf per line: lines from one process never interleave */
    fprintf(stderr, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",%s}\n", ts, (long)(tv.tv_usec / 1000), names[level], fields);
}
