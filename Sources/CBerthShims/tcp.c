// <linux/tcp.h> has the fields of tcp_info that glibc's <netinet/tcp.h> lacks, and the two cannot be mixed:
// berth_shims.h includes uv.h, which includes <netinet/tcp.h>, so this file declares its functions as the header does.
#include <errno.h>
#include <stdint.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

int berth_tcp_output(int fd, uint64_t *acknowledged, int *outstanding);
int berth_set_reset_on_close(int fd);

int berth_tcp_output(int fd, uint64_t *acknowledged, int *outstanding) {
    struct tcp_info info = {0};
    socklen_t length = sizeof(info);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) < 0) return -errno;
    *acknowledged = info.tcpi_bytes_acked;
    // Bytes written but not yet acknowledged are either unsent (notsent) or in flight (unacked segments).
    *outstanding = info.tcpi_notsent_bytes > 0 || info.tcpi_unacked > 0;
    return 0;
}

int berth_set_reset_on_close(int fd) {
    struct linger linger = { .l_onoff = 1, .l_linger = 0 };
    return setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, sizeof(linger)) < 0 ? -errno : 0;
}
