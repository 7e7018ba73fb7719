#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <signal.h>
#include <unistd.h>
#include <uv.h>
#include "berth_shims.h"

int berth_spawn_worker(uv_loop_t *loop, uv_process_t *process, const char *file, char **args, uv_exit_cb on_exit,
                       uv_pipe_t *ready, int listener) {
    uv_stdio_container_t stdio[5];
    for (int fd = 0; fd < 3; fd++) {
        stdio[fd].flags = UV_INHERIT_FD;
        stdio[fd].data.fd = fd;
    }
    stdio[3].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[3].data.stream = (uv_stream_t *)ready;
    stdio[4].flags = UV_INHERIT_FD;
    stdio[4].data.fd = listener;
    uv_process_options_t options = {0};
    options.exit_cb = on_exit;
    options.file = file;
    options.args = args;
    options.stdio_count = 5;
    options.stdio = stdio;
    return uv_spawn(loop, process, &options);
}

int berth_die_with_parent(int expected_parent) {
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) return -1;
    // The parent may have died before prctl: then we were reparented and must go now.
    return getppid() == expected_parent ? 0 : -1;
}

void berth_release_startup_code(void) {
    char self[4096];
    ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
    if (length <= 0) return;
    self[length] = 0;
    FILE *maps = fopen("/proc/self/maps", "re");
    if (!maps) return;
    char line[4352];
    while (fgets(line, sizeof line, maps)) {
        unsigned long start, end;
        char permissions[8];
        int path_at = 0;
        if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &start, &end, permissions, &path_at) < 3 || path_at == 0) continue;
        char *path = line + path_at;
        path[strcspn(path, "\n")] = 0;
        /* Only code: never written, so dropping it loses nothing (it is read again from the file if needed). */
        if (strcmp(permissions, "r-xp") != 0 || strcmp(path, self) != 0) continue;
        madvise((void *)start, end - start, MADV_RANDOM);
        madvise((void *)start, end - start, MADV_DONTNEED);
    }
    fclose(maps);
}
