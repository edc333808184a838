#include "translate/errors.h"

#include <stdio.h>
#include <string.h>

static int append_opt(dw_buf_t *out, const char *s)
{
    if (s == NULL)
        return dw_buf_append_str(out, "null");
    return dw_buf_append_json_string(out, s, strlen(s));
}

int dw_error_object(dw_buf_t *out, const char *type, const char *code, const char *param, const char *message)
{
    if (dw_buf_append_str(out, "{\"message\":") || append_opt(out, message) || dw_buf_append_str(out, ",\"type\":") ||
        append_opt(out, type) || dw_buf_append_str(out, ",\"param\":") || append_opt(out, param) ||
        dw_buf_append_str(out, ",\"code\":") || append_opt(out, code) || dw_buf_append_str(out, "}"))
        return -1;
    return 0;
}

int dw_error_body(dw_buf_t *out, const char *type, const char *code, const char *param, const char *message)
{
    if (dw_buf_append_str(out, "{\"error\":") || dw_error_object(out, type, code, param, message) ||
        dw_buf_append_str(out, "}"))
        return -1;
    return 0;
}

int dw_error_event(dw_buf_t *out, const char *code, const char *param, const char *message, uint64_t sequence_number)
{
    char seq[48];
    snprintf(seq, sizeof(seq), ",\"sequence_number\":%llu}", (unsigned long long)sequence_number);
    if (dw_buf_append_str(out, "{\"type\":\"error\",\"code\":") || append_opt(out, code) ||
        dw_buf_append_str(out, ",\"message\":") || append_opt(out, message) || dw_buf_append_str(out, ",\"param\":") ||
        append_opt(out, param) || dw_buf_append_str(out, seq))
        return -1;
    return 0;
}

const char *dw_error_type_for_status(int status)
{
    switch (status) {
    case 401:
        return "authentication_error";
    case 403:
        return "permission_error";
    case 404:
        return "not_found_error";
    case 413:
    case 400:
    case 422:
        return "invalid_request_error";
    case 429:
        return "rate_limit_error";
    default:
        return status >= 500 ? "server_error" : "invalid_request_error";
    }
}
