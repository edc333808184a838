#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <criterion/criterion.h>
#include "tests/unit/fixture.h"

char *fx_read(const char *path, size_t *n)
{
    const char *root = getenv("DW_FIXTURES_DIR");
    char full[4096];
    cr_assert(root != NULL, "DW_FIXTURES_DIR is not set");
    snprintf(full, sizeof full, "%s/%s", root, path);
    FILE *f = fopen(full, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)len + 1);
    cr_assert(buf != NULL);
    cr_assert(fread(buf, 1, (size_t)len, f) == (size_t)len);
    fclose(f);
    buf[len] = '\0';
    *n = (size_t)len;
    return buf;
}

static int load(const char *dir, int t, const char *suffix, const char *key, char **body, dw_spans_t *items)
{
    char path[1024];
    size_t n, err = 0;
    dw_members_t members = {0};
    snprintf(path, sizeof path, "%s/turn-%d%s", dir, t, suffix);
    *body = fx_read(path, &n);
    if (*body == NULL)
        return -1;
    int rc = dw_json_scan_object(*body, n, key, &members, items, &err);
    cr_assert_eq(rc, 0, "%s: scan failed (%d at %zu)", path, rc, err);
    dw_members_free(&members);
    return 0;
}

int fx_request(const char *dir, int t, char **body, dw_spans_t *items)
{
    return load(dir, t, ".json", "input", body, items);
}

int fx_response(const char *dir, int t, char **body, dw_spans_t *items)
{
    return load(dir, t, ".response.json", "output", body, items);
}

int fx_turns(const char *dir)
{
    int t = 0;
    for (;;) {
        char path[1024];
        size_t n;
        snprintf(path, sizeof path, "%s/turn-%d.json", dir, t + 1);
        char *b = fx_read(path, &n);
        if (b == NULL)
            return t;
        free(b);
        t++;
    }
}

const char *fx_response_id(const char *body)
{
    static char id[256];
    dw_span_t obj = {body, strlen(body)}, v;
    cr_assert(dw_json_object_get(obj, "id", &v));
    char *s = dw_json_string_dup(v);
    cr_assert(s != NULL && strlen(s) < sizeof id);
    strcpy(id, s);
    free(s);
    return id;
}
