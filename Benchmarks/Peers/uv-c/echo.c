// The baseline for Weave's echo server: a TCP echo server on raw libuv, one loop, no
// coroutines. Every read is written back as it came: at once with uv_try_write from the
// connection's own read buffer (no allocation), queued with a copy only when the socket
// cannot take it all.
//
//   gcc -O2 -o uv-echo echo.c -luv && ./uv-echo PORT
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

typedef struct {
    uv_tcp_t handle;
    char buffer[65536];
} connection;

typedef struct {
    uv_write_t request;
    uv_buf_t buffer;
} echo_write;

static uv_loop_t *loop;

static void allocate(uv_handle_t *handle, size_t suggested, uv_buf_t *buffer) {
    (void)suggested;
    connection *client = (connection *)handle;
    *buffer = uv_buf_init(client->buffer, sizeof client->buffer);
}

static void closed(uv_handle_t *handle) { free(handle); }

static void written(uv_write_t *request, int status) {
    echo_write *write = (echo_write *)request;
    free(write->buffer.base);
    free(write);
    (void)status;
}

static void readable(uv_stream_t *client, ssize_t count, const uv_buf_t *buffer) {
    if (count < 0) {
        uv_close((uv_handle_t *)client, closed);
        return;
    }
    uv_buf_t data = uv_buf_init(buffer->base, (unsigned)count);
    int sent = count > 0 ? uv_try_write(client, &data, 1) : 0;
    if (sent == count) return;
    if (sent < 0 && sent != UV_EAGAIN) {
        uv_close((uv_handle_t *)client, closed);
        return;
    }
    if (sent < 0) sent = 0;
    echo_write *write = malloc(sizeof *write);
    write->buffer = uv_buf_init(malloc((size_t)count - (size_t)sent), (unsigned)(count - sent));
    memcpy(write->buffer.base, buffer->base + sent, (size_t)count - (size_t)sent);
    if (uv_write(&write->request, client, &write->buffer, 1, written) != 0) {
        free(write->buffer.base);
        free(write);
        uv_close((uv_handle_t *)client, closed);
    }
}

static void incoming(uv_stream_t *server, int status) {
    if (status < 0) return;
    connection *client = malloc(sizeof *client);
    uv_tcp_init(loop, &client->handle);
    if (uv_accept(server, (uv_stream_t *)&client->handle) == 0) {
        uv_tcp_nodelay(&client->handle, 1);
        uv_read_start((uv_stream_t *)&client->handle, allocate, readable);
    } else {
        uv_close((uv_handle_t *)&client->handle, closed);
    }
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 9000;
    loop = uv_default_loop();
    uv_tcp_t server;
    struct sockaddr_in address;
    uv_tcp_init(loop, &server);
    uv_ip4_addr("127.0.0.1", port, &address);
    int status = uv_tcp_bind(&server, (const struct sockaddr *)&address, 0);
    if (status == 0) status = uv_listen((uv_stream_t *)&server, 4096, incoming);
    if (status != 0) {
        fprintf(stderr, "uv-echo: listen 127.0.0.1:%d: %s\n", port, uv_strerror(status));
        return 1;
    }
    return uv_run(loop, UV_RUN_DEFAULT);
}
