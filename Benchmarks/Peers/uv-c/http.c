// The baseline for Weave's HTTP sample: HTTP/1.1 keep-alive on raw libuv, one loop. The
// "parser" only finds the blank line that ends each request head (bodies are not read), so
// this is the least work a server can do per request: a floor, not a real server.
//
//   gcc -O2 -o uv-http http.c -luv && ./uv-http PORT
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static const char hello[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";
#define HELLO_LENGTH (sizeof hello - 1)

typedef struct {
    uv_tcp_t handle;
    int matched;  // bytes of "\r\n\r\n" matched at the end of the input so far
    char buffer[65536];
} connection;

typedef struct {
    uv_write_t request;
    uv_buf_t buffer;
} response_write;

static uv_loop_t *loop;

static void allocate(uv_handle_t *handle, size_t suggested, uv_buf_t *buffer) {
    (void)suggested;
    connection *client = (connection *)handle;
    *buffer = uv_buf_init(client->buffer, sizeof client->buffer);
}

static void closed(uv_handle_t *handle) { free(handle); }

static void written(uv_write_t *request, int status) {
    response_write *write = (response_write *)request;
    free(write->buffer.base);
    free(write);
    (void)status;
}

static void readable(uv_stream_t *stream, ssize_t count, const uv_buf_t *buffer) {
    connection *client = (connection *)stream;
    if (count <= 0) {
        if (count < 0) uv_close((uv_handle_t *)stream, closed);
        return;
    }
    // Count the request heads that end in this read (pipelined requests included).
    static const char end[] = "\r\n\r\n";
    size_t requests = 0;
    for (ssize_t index = 0; index < count; index++) {
        char byte = buffer->base[index];
        if (byte == end[client->matched]) {
            if (++client->matched == 4) { requests++; client->matched = 0; }
        } else {
            client->matched = byte == '\r' ? 1 : 0;
        }
    }
    if (requests == 0) return;
    // The responses go out at once when the socket takes them (the usual case); the rest is
    // queued with a copy.
    size_t total = requests * HELLO_LENGTH;
    char *responses = requests == 1 ? (char *)hello : malloc(total);
    if (requests > 1) for (size_t index = 0; index < requests; index++) memcpy(responses + index * HELLO_LENGTH, hello, HELLO_LENGTH);
    uv_buf_t data = uv_buf_init(responses, (unsigned)total);
    int sent = uv_try_write(stream, &data, 1);
    if (sent == (int)total || (sent < 0 && sent != UV_EAGAIN)) {
        if (requests > 1) free(responses);
        if (sent < 0) uv_close((uv_handle_t *)stream, closed);
        return;
    }
    if (sent < 0) sent = 0;
    response_write *write = malloc(sizeof *write);
    write->buffer = uv_buf_init(malloc(total - (size_t)sent), (unsigned)(total - (size_t)sent));
    memcpy(write->buffer.base, responses + sent, total - (size_t)sent);
    if (requests > 1) free(responses);
    if (uv_write(&write->request, stream, &write->buffer, 1, written) != 0) {
        free(write->buffer.base);
        free(write);
        uv_close((uv_handle_t *)stream, closed);
    }
}

static void incoming(uv_stream_t *server, int status) {
    if (status < 0) return;
    connection *client = calloc(1, sizeof *client);
    uv_tcp_init(loop, &client->handle);
    if (uv_accept(server, (uv_stream_t *)&client->handle) == 0) {
        uv_tcp_nodelay(&client->handle, 1);
        uv_read_start((uv_stream_t *)&client->handle, allocate, readable);
    } else {
        uv_close((uv_handle_t *)&client->handle, closed);
    }
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 8080;
    loop = uv_default_loop();
    uv_tcp_t server;
    struct sockaddr_in address;
    uv_tcp_init(loop, &server);
    uv_ip4_addr("127.0.0.1", port, &address);
    int status = uv_tcp_bind(&server, (const struct sockaddr *)&address, 0);
    if (status == 0) status = uv_listen((uv_stream_t *)&server, 4096, incoming);
    if (status != 0) {
        fprintf(stderr, "uv-http: listen 127.0.0.1:%d: %s\n", port, uv_strerror(status));
        return 1;
    }
    return uv_run(loop, UV_RUN_DEFAULT);
}
