"""Instructions per kept-alive manifest GET in a Berth worker, counted by callgrind: a figure the machine's
load does not move (this VM's request rates and CPU times swing by 30 % with other work; instruction counts
repeat to within 0.1 %), so two binaries compare in one run without alternating rounds. It counts user-space
instructions only (Berth, OpenSSL, libc, http-parser, libuv), not the kernel's share or cache misses: read it
beside bench/tls.py's rates and CPU times, not instead of them.

    python3 bench/instructions.py [--requests N] [--modes tls,plain,basic,bearer] [--keep DIR] BIN [BIN ...]
    make bench-instructions BEFORE=old/berth

Each binary is copied without its DWARF (Debian 12's valgrind cannot read Swift 6's DWARF 5; the symbol table
stays), started with one worker under `valgrind --tool=callgrind --trace-children=yes`, sent 300 requests to
warm up, then the worker's counters are zeroed (`callgrind_control -z`), N requests (default 1000) are sent on
one kept-alive connection (TLS with a CA made here, or plain), and the counters dumped. The web UI is off:
its templates need not be beside the copy, and it adds nothing to a `/v2/` request. `basic` and `bearer` are
plain HTTP behind `auth.htpasswd` (a verified password, cached after the first request) and behind
`auth.builtin` (its token of about 600 bytes on every request, verified once): issue 15's authenticated GET,
to read beside `plain`.
"""

import argparse
import base64
import glob
import http.client
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time

import bench
from bench import ACCEPT, Content

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "Tests", "integration"))
from mirrorutil import make_ca_and_server_cert  # noqa: E402


KEEP = None


def ensure_valgrind():
    if shutil.which("valgrind") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "valgrind"], check=True, capture_output=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def seed(binary, workdir, root):
    bench.BERTH = binary
    loader = bench.Server("seed", [binary, "serve", "--addr", "127.0.0.1:PORT", "--root", root, "--workers", "1",
                                   "--log-level", "warn"], workdir, env={"BERTH_UI_ENABLED": "false"})
    Content().load(loader.base)
    loader.stop()
    bench.STARTED.remove(loader)


BASIC = "Basic " + base64.b64encode(b"bench:bench-password").decode()


def auth_config(mode, workdir):
    """The configuration file of an authenticated mode (`--config`), or nil."""
    if mode not in ("basic", "bearer"):
        return None
    users = os.path.join(workdir, "htpasswd")
    if not os.path.exists(users):
        # A low cost: only the first request pays it, and under callgrind it is slow.
        subprocess.run(["htpasswd", "-B", "-C", "5", "-b", "-c", users, "bench", "bench-password"], check=True, capture_output=True)
    path = os.path.join(workdir, f"{mode}.yml")
    with open(path, "w") as f:
        if mode == "basic":
            f.write(f"auth:\n  htpasswd:\n    realm: bench\n    path: {users}\n")
        else:
            f.write(f"auth:\n  builtin:\n    htpasswd: {users}\n    key: {workdir}/token.pem\n    expiration: 1h\n"
                    "    access:\n      - {account: bench, name: bench, actions: [pull]}\n")
    return path


def count(binary, mode, requests, workdir, root, certs):
    port = bench.free_port()
    env = {**os.environ, "BERTH_STORAGE_FILESYSTEM_FSYNC": "false", "BERTH_UI_ENABLED": "false"}
    if mode == "tls":
        env.update(BERTH_HTTP_TLS_CERTIFICATE=certs["cert"], BERTH_HTTP_TLS_KEY=certs["key"])
    config = auth_config(mode, workdir)
    out = os.path.join(workdir, f"callgrind-{mode}")
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", "--trace-children=yes", f"--callgrind-out-file={out}.%p",
                             binary, "serve", "--addr", f"127.0.0.1:{port}", "--root", root, "--workers", "1",
                             "--log-level", "warn"] + (["--config", config] if config else []), env=env, stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(workdir, f"valgrind-{mode}.log"), "wb"))
    try:
        context = ssl.create_default_context(cafile=certs["ca"]) if mode == "tls" else None
        connection = None
        for _ in range(600):  # a Swift binary under callgrind takes many seconds to start
            try:
                connection = (http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=120) if context
                              else http.client.HTTPConnection("127.0.0.1", port, timeout=120))
                connection.request("GET", "/v2/")
                connection.getresponse().read()
                break
            except OSError:
                connection = None
                time.sleep(0.5)
        if connection is None:
            raise SystemExit(f"{binary} did not start under valgrind: see {workdir}/valgrind-{mode}.log")
        headers = {"Accept": ACCEPT}
        if mode == "basic":
            headers["Authorization"] = BASIC
        elif mode == "bearer":
            connection.request("GET", "/auth/token?service=berth&scope=repository:bench:pull", headers={"Authorization": BASIC})
            response = connection.getresponse()
            headers["Authorization"] = "Bearer " + json.loads(response.read())["token"]

        def get(n):
            for _ in range(n):
                connection.request("GET", "/v2/bench/manifests/latest", headers=headers)
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    raise SystemExit(f"manifest GET answered {response.status}")

        get(300)
        workers = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        worker = int(workers[0]) if workers else proc.pid
        subprocess.run(["callgrind_control", "-z", str(worker)], check=True, capture_output=True)
        get(requests)
        subprocess.run(["callgrind_control", "-d", str(worker)], check=True, capture_output=True)
        for _ in range(50):
            dumps = sorted(glob.glob(f"{out}.{worker}.*"), key=os.path.getmtime)
            if dumps:
                text = open(dumps[-1]).read()
                found = re.search(r"^(?:summary|totals):\s+(\d+)", text, re.M)
                if found:
                    if KEEP:
                        shutil.copy(dumps[-1], os.path.join(KEEP, f"callgrind.{os.path.basename(binary)}.{mode}"))
                    return int(found.group(1)) / requests
            time.sleep(0.2)
        raise SystemExit("callgrind wrote no dump")
    finally:
        proc.terminate()
        proc.wait(timeout=120)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("binaries", nargs="+")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--modes", default="tls,plain")
    parser.add_argument("--keep", metavar="DIR", help="copy each callgrind dump here (for callgrind_annotate)")
    args = parser.parse_args()
    global KEEP
    KEEP = args.keep
    ensure_valgrind()
    workdir = tempfile.mkdtemp(prefix="berth-instructions-")
    try:
        certs = make_ca_and_server_cert(os.path.join(workdir, "certs"))
        results = {}
        for index, binary in enumerate(args.binaries):
            copy = os.path.join(workdir, f"berth-{index}")
            subprocess.run(["strip", "--strip-debug", "-o", copy, binary], check=True)
            root = os.path.join(workdir, f"root-{index}")
            seed(copy, workdir, root)
            for mode in args.modes.split(","):
                results[(binary, mode)] = count(copy, mode, args.requests, workdir, root, certs)
                print(f"{mode:5s} {binary}: {results[(binary, mode)]:,.0f} instructions per request", flush=True)
        if len(args.binaries) > 1:
            first = args.binaries[0]
            for binary in args.binaries[1:]:
                for mode in args.modes.split(","):
                    print(f"{mode:5s} {binary} / {first}: {results[(binary, mode)] / results[(first, mode)]:.3f}")
    finally:
        for server in bench.STARTED:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
