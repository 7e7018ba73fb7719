#include <sys/prctl.h>
#include <signal.h>
#include <unistd.h>
#include <uv.h>
#include "berth_shims.h"

int berth_spawn_inheriting_stdio(uv_loop_t *loop, uv_process_t *process, const char *file, char **args, uv_exit_cb on_exit) {
    uv_stdio_container_t stdio[3];
    for (int fd = 0; fd < 3; fd++) {
        stdio[fd].flags = UV_INHERIT_FD;
        stdio[fd].data.fd = fd;
    }
    uv_process_options_t options = {0};
    options.exit_cb = on_exit;
    options.file = file;
    options.args = args;
    options.stdio_count = 3;
    options.stdio = stdio;
    return uv_spawn(loop, process, &options);
}

int berth_die_with_parent(int expected_parent) {
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) return -1;
    // The parent may have died before prctl: then we were reparented and must go now.
    return getppid() == expected_parent ? 0 : -1;
}
