#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>
#include "berth_shims.h"

long berth_sendfile(int out_fd, int in_fd, int64_t offset, size_t count) {
    off_t position = (off_t)offset;
    ssize_t sent = sendfile(out_fd, in_fd, &position, count);
    return sent < 0 ? -errno : (long)sent;
}

int berth_set_blocking(int fd, int blocking) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return -errno;
    flags = blocking ? (flags & ~O_NONBLOCK) : (flags | O_NONBLOCK);
    return fcntl(fd, F_SETFL, flags) < 0 ? -errno : 0;
}

int berth_set_send_timeout(int fd, int seconds) {
    struct timeval timeout = { .tv_sec = seconds, .tv_usec = 0 };
    return setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout)) < 0 ? -errno : 0;
}

void berth_ignore_sigpipe(void) { signal(SIGPIPE, SIG_IGN); }

int berth_errno(void) { return errno; }

int berth_eventfd(void) {
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int berth_listen_tcp(const struct sockaddr *address, unsigned length, int backlog, int join) {
    int fd = socket(address->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -errno;
    int on = 1;
    /* SO_REUSEADDR, as libuv sets it: a restart binds past TIME_WAIT. SO_REUSEPORT only before the bind of a
       socket that joins the caller's first; on the first, only once it is bound (see the header). */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0
        || (join && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) < 0)
        || bind(fd, address, length) < 0
        || (!join && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) < 0)
        || listen(fd, backlog) < 0) {
        int error = errno;
        close(fd);
        return -error;
    }
    return fd;
}

#include <sys/random.h>

int berth_random_bytes(void *buffer, size_t count) {
    return getrandom(buffer, count, 0) == (ssize_t)count ? 0 : -errno;
}

void berth_start_writeback(int fd, int64_t offset, int64_t count) {
    sync_file_range(fd, (off_t)offset, (off_t)count, SYNC_FILE_RANGE_WRITE);
}

void berth_limit_malloc_arenas(int count) {
    mallopt(M_ARENA_MAX, count);
}

int berth_open_direct(const char *path) {
    return open(path, O_WRONLY | O_DIRECT | O_CLOEXEC);
}

uint64_t berth_atomic_load(const uint64_t *value) {
    return __atomic_load_n(value, __ATOMIC_ACQUIRE);
}

void berth_atomic_increment(uint64_t *value) {
    __atomic_add_fetch(value, 1, __ATOMIC_RELEASE);
}

int berth_is_cached(int fd, int64_t offset) {
    char byte;
    struct iovec vector = { &byte, 1 };
    return preadv2(fd, &vector, 1, offset, RWF_NOWAIT) >= 0;
}
