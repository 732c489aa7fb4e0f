// Load for echo servers: CONNS connections on one thread, each sending a SIZE-byte message
// and waiting for all of it to come back before sending the next, for SECONDS. Prints one
// JSON line: round trips a second and latency percentiles.
//
//   gcc -O2 -o echo-load echo_load.c && ./echo-load PORT [CONNS=64] [SECONDS=5] [SIZE=64]
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int fd;
    size_t received;   // bytes of the current echo back so far
    uint64_t sent_at;  // ns
} peer;

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int compare(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: echo-load PORT [CONNS] [SECONDS] [SIZE]\n"); return 2; }
    int port = atoi(argv[1]);
    int conns = argc > 2 ? atoi(argv[2]) : 64;
    double seconds = argc > 3 ? atof(argv[3]) : 5;
    size_t size = argc > 4 ? (size_t)atoi(argv[4]) : 64;
    if (conns < 1 || seconds <= 0 || size < 1 || size > 65536) { fprintf(stderr, "echo-load: bad arguments\n"); return 2; }

    char *message = malloc(size), *scratch = malloc(65536);
    memset(message, 'x', size);
    peer *peers = calloc((size_t)conns, sizeof *peers);
    size_t capacity = 1u << 24, samples = 0;  // latencies in µs (first 16M kept)
    uint32_t *latencies = malloc(capacity * sizeof *latencies);
    int epoll = epoll_create1(EPOLL_CLOEXEC);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int index = 0; index < conns; index++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof address) != 0) {
            fprintf(stderr, "echo-load: connect 127.0.0.1:%d: %s\n", port, strerror(errno));
            return 1;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        peers[index].fd = fd;
        struct epoll_event event = { .events = EPOLLIN, .data.u32 = (uint32_t)index };
        epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event);
    }
    uint64_t start = now_ns(), end = start + (uint64_t)(seconds * 1e9);
    for (int index = 0; index < conns; index++) {
        peers[index].sent_at = now_ns();
        if (write(peers[index].fd, message, size) != (ssize_t)size) { perror("echo-load: write"); return 1; }
    }
    uint64_t completed = 0, errors = 0;
    struct epoll_event events[256];
    while (now_ns() < end) {
        int ready = epoll_wait(epoll, events, 256, 100);
        for (int index = 0; index < ready; index++) {
            peer *p = &peers[events[index].data.u32];
            ssize_t count = read(p->fd, scratch, 65536);
            if (count <= 0) {
                if (count < 0 && errno == EAGAIN) continue;
                errors++;
                epoll_ctl(epoll, EPOLL_CTL_DEL, p->fd, NULL);
                continue;
            }
            p->received += (size_t)count;
            if (p->received < size) continue;
            uint64_t t = now_ns();
            if (samples < capacity) latencies[samples++] = (uint32_t)((t - p->sent_at) / 1000);
            completed++;
            p->received = 0;
            p->sent_at = t;
            if (write(p->fd, message, size) != (ssize_t)size) errors++;
        }
    }
    double elapsed = (double)(now_ns() - start) / 1e9;
    qsort(latencies, samples, sizeof *latencies, compare);
    uint32_t p50 = samples ? latencies[samples / 2] : 0, p99 = samples ? latencies[samples * 99 / 100] : 0;
    printf("{\"conns\":%d,\"size\":%zu,\"seconds\":%.2f,\"msgs_per_s\":%.0f,\"p50_us\":%u,\"p99_us\":%u,\"errors\":%llu}\n",
           conns, size, elapsed, (double)completed / elapsed, p50, p99, (unsigned long long)errors);
    return errors ? 1 : 0;
}
