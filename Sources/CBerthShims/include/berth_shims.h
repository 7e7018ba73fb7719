#ifndef BERTH_SHIMS_H
#define BERTH_SHIMS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/// Opaque storage big enough for OpenSSL's SHA256_CTX (112 bytes on x86_64 and arm64).
typedef struct { uint64_t words[16]; } berth_sha256_state;

/// Size of a SHA-256 state in Go's crypto/sha256 MarshalBinary format, which registry:2
/// writes under `_uploads/<id>/hashstates/sha256/<offset>`.
#define BERTH_SHA256_GO_STATE_SIZE 108

void berth_sha256_init(berth_sha256_state *state);
void berth_sha256_update(berth_sha256_state *state, const void *bytes, size_t count);
/// Writes the 32-byte digest without consuming the state, so an upload can go on after a mismatch.
void berth_sha256_peek(const berth_sha256_state *state, uint8_t out[32]);
uint64_t berth_sha256_length(const berth_sha256_state *state);
/// Encodes the state in Go's format: "sha\x03", h[8] big-endian, the pending block padded to 64 bytes, length big-endian.
void berth_sha256_export(const berth_sha256_state *state, uint8_t out[BERTH_SHA256_GO_STATE_SIZE]);
/// Returns 0 on success, -1 when the bytes are not a Go SHA-256 state.
int berth_sha256_import(berth_sha256_state *state, const uint8_t *in, size_t count);

/// One sendfile(2) call; returns bytes sent or -errno.
long berth_sendfile(int out_fd, int in_fd, int64_t offset, size_t count);
/// 1 when the file's byte at `offset` is in the page cache (a read of it would not wait on the disk), else 0.
int berth_is_cached(int fd, int64_t offset);
/// Sets or clears O_NONBLOCK; returns 0 or -errno.
int berth_set_blocking(int fd, int blocking);
/// A non-blocking, close-on-exec eventfd (LoopWakeup), or -errno.
int berth_eventfd(void);
/// Sets SO_SNDTIMEO so a blocking send to a stalled peer ends; returns 0 or -errno.
int berth_set_send_timeout(int fd, int seconds);
/// Starts write-back of a file range without waiting (sync_file_range WRITE), so a later fdatasync has little left.
void berth_start_writeback(int fd, int64_t offset, int64_t count);
/// Opens a file for writes that bypass the page cache (O_DIRECT); -1 where the file system refuses.
int berth_open_direct(const char *path);
/// A counter in memory shared between processes: read with acquire and raised with release ordering.
uint64_t berth_atomic_load(const uint64_t *value);
void berth_atomic_increment(uint64_t *value);
/// Caps glibc's malloc arenas: buffers filled on the loop and freed on pool threads otherwise spread
/// over one arena per thread, each keeping its peak.
void berth_limit_malloc_arenas(int count);
/* Lets the kernel drop the pages of the executable's code that start-up touched, and fault in only the pages
   that are used afterwards (no fault-around): an idle worker keeps only the code it serves with. */
void berth_release_startup_code(void);
/// Ignores SIGPIPE so a write to a closed socket returns EPIPE instead of killing the process.
void berth_ignore_sigpipe(void);
int berth_errno(void);
/// Fills `buffer` with `count` random bytes from the kernel; returns 0 or -errno.
int berth_random_bytes(void *buffer, size_t count);
/// What a TCP peer has taken of a socket's output (TCP_INFO): the bytes it acknowledged since the connection
/// began, and whether written bytes are still waiting for its acknowledgement. Returns 0 or -errno.
int berth_tcp_output(int fd, uint64_t *acknowledged, int *outstanding);
/// Makes the close of `fd` abort the connection with a reset (SO_LINGER 0): its send buffer is freed at once,
/// instead of staying with the kernel while it waits for a peer that takes nothing.
int berth_set_reset_on_close(int fd);
struct sockaddr;
/// A TCP socket bound to `address` and listening (close-on-exec, non-blocking); returns it or -errno. With
/// `join` 0 it binds without SO_REUSEPORT, so the bind fails when anything holds the port (another Berth
/// included: each binds its first socket this way, and two cannot both pass), then sets SO_REUSEPORT, which
/// Linux reads at each later bind: sockets opened with `join` 1 by the same user join it in one group, among
/// which the kernel spreads new connections.
int berth_listen_tcp(const struct sockaddr *address, unsigned length, int backlog, int join);

/// Starts `file` with `args` (NULL-terminated), sharing stdin, stdout and stderr; `ready` (an initialised
/// uv_pipe_t) becomes the parent's end of a pipe the child writes to as its descriptor 3, and `listener`
/// (a listening socket) its descriptor 4.
int berth_spawn_worker(uv_loop_t *loop, uv_process_t *process, const char *file, char **args, uv_exit_cb on_exit,
                       uv_pipe_t *ready, int listener);
/// Asks for SIGTERM when the parent dies (PR_SET_PDEATHSIG); -1 when the parent is already gone.
int berth_die_with_parent(int expected_parent);

/// A BIO for the ciphertext a TLS session reads (see slice_bio.c): `lend` gives it the bytes just read from
/// the socket, valid until `keep_unread`, which copies what OpenSSL has not taken of them yet. NULL, or 0 / -1.
struct bio_st *berth_slice_bio_new(void);
void berth_slice_bio_lend(struct bio_st *bio, const void *bytes, size_t count);
int berth_slice_bio_keep_unread(struct bio_st *bio);

/// A BIO for the ciphertext a TLS session writes (see sink_bio.c): `bytes` is what it holds (valid until the
/// next write or `empty`), `empty` drops it once the socket or a queued write has taken it. NULL when no memory.
struct bio_st *berth_sink_bio_new(void);
const void *berth_sink_bio_bytes(struct bio_st *bio, size_t *count);
void berth_sink_bio_empty(struct bio_st *bio);

#endif
