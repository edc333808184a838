#include "proxy/demo.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "translate/buf.h"

#define DEMO_TURNS 12

typedef struct {
    pid_t pid;
    int port;
    FILE *err; /* the child's stderr, kept open so that its writes never meet a closed pipe */
} child_t;

/* Starts argv[0] with its stderr on a pipe and waits for its "listening on 127.0.0.1:PORT". */
static int spawn_listening(char *const argv[], child_t *c)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    c->pid = fork();
    if (c->pid < 0)
        return -1;
    if (c->pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    c->err = fdopen(fds[0], "r");
    char line[512];
    c->port = 0;
    while (c->port == 0 && fgets(line, sizeof(line), c->err) != NULL) {
        char *at = strstr(line, "listening on 127.0.0.1:");
        if (at != NULL)
            c->port = atoi(at + strlen("listening on 127.0.0.1:"));
    }
    return c->port > 0 ? 0 : -1;
}

/* One HTTP/1.1 exchange over a fresh loopback connection. Returns the status, or -1. */
static int http(int port, const char *method, const char *path, const char *body, dw_buf_t *resp)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    dw_buf_t req = {0};
    char head[512];
    size_t blen = body ? strlen(body) : 0;
    snprintf(head, sizeof(head),
             "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer sk-demo\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\nConnection: close\r\n\r\n",
             method, path, blen);
    dw_buf_append_str(&req, head);
    dw_buf_append(&req, body, blen);
    for (size_t off = 0; off < req.len;) {
        ssize_t w = write(fd, req.p + off, req.len - off);
        if (w <= 0) {
            dw_buf_free(&req);
            close(fd);
            return -1;
        }
        off += (size_t)w;
    }
    dw_buf_free(&req);
    dw_buf_t raw = {0};
    char chunk[65536];
    ssize_t r;
    while ((r = read(fd, chunk, sizeof(chunk))) > 0)
        dw_buf_append(&raw, chunk, (size_t)r);
    close(fd);
    int status = -1;
    char *sep = raw.p ? memmem(raw.p, raw.len, "\r\n\r\n", 4) : NULL;
    if (sep != NULL && sscanf(raw.p, "HTTP/1.%*d %d", &status) == 1) {
        size_t hl = (size_t)(sep + 4 - raw.p);
        dw_buf_append(resp, raw.p + hl, raw.len - hl);
        dw_buf_append(resp, "", 1);
    }
    dw_buf_free(&raw);
    return status;
}

/* A stand-in for the ~30 KB of instructions and tools a coding agent re-sends every turn. */
static json_t *first_input(void)
{
    dw_buf_t prompt = {0};
    for (int i = 0; i < 300; i++)
        dw_buf_append_str(&prompt, "You are a careful coding agent. Read before you write; run the tests. ");
    json_t *in = json_pack("[{s:s, s:s#}, {s:s, s:s}]", "role", "developer", "content", prompt.p, (int)prompt.len,
                           "role", "user", "content", "Run the shell command echo hello a few times, then summarise.");
    dw_buf_free(&prompt);
    return in;
}

static json_t *tools(void)
{
    return json_pack("[{s:s, s:s, s:s, s:{s:s, s:{s:{s:s}}, s:[s]}}]", "type", "function", "name", "run_shell",
                     "description", "Run a shell command", "parameters", "type", "object", "properties", "cmd", "type",
                     "string", "required", "cmd");
}

/* Appends the response's output and a tool result per call; returns the number of calls. */
static int extend(json_t *input, json_t *response)
{
    int calls = 0;
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(response, "output"), i, item)
    {
        json_array_append(input, item);
        if (strcmp(json_string_value(json_object_get(item, "type")) ?: "", "function_call") == 0) {
            json_array_append_new(input, json_pack("{s:s, s:O, s:s}", "type", "function_call_output", "call_id",
                                                   json_object_get(item, "call_id"), "output", "hello\n"));
            calls++;
        }
    }
    return calls;
}

static void print_table(int mock_port, const size_t *client_bytes, int turns)
{
    dw_buf_t body = {0};
    if (http(mock_port, "GET", "/__mock/log", NULL, &body) != 200) {
        dw_buf_free(&body);
        return;
    }
    json_t *log = json_loads(body.p, 0, NULL);
    dw_buf_free(&body);
    printf("%4s  %12s  %14s  %7s  %s\n", "turn", "client bytes", "upstream bytes", "saved", "sent upstream as");
    size_t tc = 0, tu = 0;
    int turn = 0;
    size_t i;
    json_t *e;
    json_array_foreach(log, i, e)
    {
        if (turn >= turns)
            break;
        size_t up = (size_t)json_integer_value(json_object_get(e, "bytes"));
        const char *prev = json_string_value(json_object_get(e, "previous_response_id"));
        size_t cb = client_bytes[turn];
        printf("%4d  %12zu  %14zu  %6.1f%%  %s (%lld items)\n", turn + 1, cb, up,
               cb ? 100.0 * (1.0 - (double)up / (double)cb) : 0.0, prev ? "delta" : "full",
               (long long)json_integer_value(json_object_get(e, "items")));
        tc += cb;
        tu += up;
        turn++;
    }
    printf("total %12zu  %14zu  %6.1f%%\n", tc, tu, tc ? 100.0 * (1.0 - (double)tu / (double)tc) : 0.0);
    json_decref(log);
}

static void stop(child_t *c)
{
    if (c->pid <= 0)
        return;
    kill(c->pid, SIGTERM);
    waitpid(c->pid, NULL, 0);
    if (c->err != NULL)
        fclose(c->err);
}

static void self_dir(char *out, size_t cap)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
    snprintf(out, cap, "%s", dirname(exe));
}

/* deltawire-mock next to deltawire (installed), or in the build tree's mock/. */
static int find_mock(char *out, size_t cap)
{
    char dir[PATH_MAX];
    self_dir(dir, sizeof(dir));
    snprintf(out, cap, "%s/deltawire-mock", dir);
    if (access(out, X_OK) == 0)
        return 0;
    snprintf(out, cap, "%s/../mock/deltawire-mock", dir);
    return access(out, X_OK);
}

int dw_demo_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    char mock_path[PATH_MAX + 32], self[PATH_MAX];
    if (find_mock(mock_path, sizeof(mock_path)) != 0) {
        fprintf(stderr, "deltawire demo: deltawire-mock not found next to deltawire\n");
        return 1;
    }
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    self[n > 0 ? n : 0] = '\0';

    child_t mock = {0}, proxy = {0};
    char *mock_argv[] = {mock_path, "--listen", "127.0.0.1:0", "--tool-turns", "10", NULL};
    if (spawn_listening(mock_argv, &mock) != 0) {
        fprintf(stderr, "deltawire demo: deltawire-mock did not start\n");
        return 1;
    }
    char upstream[64];
    snprintf(upstream, sizeof(upstream), "http://127.0.0.1:%d/v1", mock.port);
    char *proxy_argv[] = {self, "--listen", "127.0.0.1:0", "--upstream", upstream, "--log-level", "warn", NULL};
    int rc = 1;
    if (spawn_listening(proxy_argv, &proxy) != 0) {
        fprintf(stderr, "deltawire demo: deltawire did not start\n");
        goto out;
    }
    printf("deltawire demo: a scripted agent session through deltawire (127.0.0.1:%d) to deltawire-mock "
           "(127.0.0.1:%d).\nEach turn the client re-sends its whole history; deltawire sends the mock only "
           "what is new.\n\n",
           proxy.port, mock.port);

    json_t *input = first_input(), *tl = tools();
    size_t client_bytes[DEMO_TURNS] = {0};
    int turns = 0;
    for (; turns < DEMO_TURNS; turns++) {
        json_t *req = json_pack("{s:s, s:s, s:O, s:O, s:b}", "model", "gpt-5.5", "instructions", "Be brief.", "tools",
                                tl, "input", input, "store", 0);
        char *body = json_dumps(req, JSON_COMPACT);
        json_decref(req);
        client_bytes[turns] = strlen(body);
        dw_buf_t resp = {0};
        int status = http(proxy.port, "POST", "/v1/responses", body, &resp);
        free(body);
        json_t *r = status == 200 ? json_loads(resp.p, 0, NULL) : NULL;
        dw_buf_free(&resp);
        if (r == NULL) {
            fprintf(stderr, "deltawire demo: turn %d failed (HTTP %d)\n", turns + 1, status);
            break;
        }
        int calls = extend(input, r);
        json_decref(r);
        if (calls == 0) {
            turns++;
            rc = 0;
            break;
        }
    }
    json_decref(input);
    json_decref(tl);
    if (rc == 0 || turns == DEMO_TURNS) {
        print_table(mock.port, client_bytes, turns);
        rc = 0;
    }
out:
    stop(&proxy);
    stop(&mock);
    return rc;
}
