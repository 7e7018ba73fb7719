"""TLS: Berth beside nginx with the same certificate, protocols and AEAD suites (`ssl_session_cache`, `sendfile`,
1 and 2 workers each), and Berth's own plain HTTP beside them; the same content (bench.py's), wrk (which speaks
TLS without verifying) in alternating rounds, the servers not measured stopped (SIGSTOP). Part of `make bench`;
alone: `BERTH_BIN=.build/release/berth python3 bench/tls.py` (BENCH_SECONDS, BENCH_ROUNDS). Writes the
"## TLS (latest figures)" section of bench/README.md.

Loads: manifest GET by tag on 64 kept-alive connections; the same counted per second of the server's own CPU
(utime + stime of its serving processes over the requests wrk counted: wrk shares the two cores, so the rate
also measures how much CPU the server leaves wrk); 64 MiB blob GET on 4; new connections per second
(`Connection: close`, a full handshake each time unless wrk resumes: it does not offer tickets) on 16.
"""

import datetime
import os
import shutil
import signal
import sys
import tempfile
import time

import bench
from bench import ACCEPT, Content, Server, digest, free_port, run_rounds, table, wrk

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "Tests", "integration"))
from mirrorutil import make_ca_and_server_cert  # noqa: E402

# Berth's default list (registry:2's AEAD suites) in OpenSSL's names, for nginx.
NGINX_CIPHERS = ("ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:"
                 "ECDHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256")


def start_berth(workdir, root, workers, certs=None):
    name = f"berth-{'tls' if certs else 'plain'}-{workers}w"
    env = {"BERTH_STORAGE_FILESYSTEM_FSYNC": "false"}
    if certs:
        env.update(BERTH_HTTP_TLS_CERTIFICATE=certs["cert"], BERTH_HTTP_TLS_KEY=certs["key"])
    return Server(name, [bench.BERTH, "serve", "--addr", "127.0.0.1:PORT", "--root", root, "--workers", str(workers),
                         "--log-level", "warn"], workdir, env=env, cafile=certs["ca"] if certs else None)


def start_nginx(workdir, workers, content, certs):
    port = free_port()
    conf = os.path.join(workdir, f"nginx-tls-{workers}.conf")
    with open(conf, "w") as f:
        f.write(f"""worker_processes {workers};
pid {workdir}/nginx-tls-{workers}.pid;
error_log {workdir}/nginx-tls-{workers}-error.log error;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 10000000;
  keepalive_timeout 120s;
  ssl_certificate {certs['cert']};
  ssl_certificate_key {certs['key']};
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_ciphers {NGINX_CIPHERS};
  ssl_prefer_server_ciphers on;
  ssl_session_cache shared:SSL:10m;
  ssl_session_tickets on;
  client_body_temp_path {workdir}/nginx-body; proxy_temp_path {workdir}/nginx-proxy;
  fastcgi_temp_path {workdir}/nginx-fcgi; uwsgi_temp_path {workdir}/nginx-uwsgi; scgi_temp_path {workdir}/nginx-scgi;
  types {{ }}
  default_type application/octet-stream;
  server {{
    listen 127.0.0.1:{port} ssl;
    root {content};
    location /v2/bench/manifests/ {{ default_type {bench.OCI_MANIFEST}; }}
  }}
}}
""")
    return Server(f"nginx-tls-{workers}w", ["nginx", "-c", conf, "-g", "daemon off;"], workdir,
                  ready_path="/v2/bench/manifests/latest", port=port, cafile=certs["ca"])


def cpu_seconds(pids):
    total = 0.0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def requests_per_cpu_second(server, url, connections, *headers):
    """Requests served per second of the server's own CPU (its workers; the master's is nil)."""
    pids = server.pids()
    before = cpu_seconds(pids)
    result = wrk(url, connections, *headers)
    spent = cpu_seconds(pids) - before
    return result["requests"] / spent if spent > 0 else 0.0


def loads(content):
    big = f"/v2/bench/blobs/{digest(content.big)}"
    return [
        ("manifest GET keep-alive, 64 conns", "req/s", lambda s: wrk(s.base + "/v2/bench/manifests/latest", 64, ACCEPT)),
        ("manifest GET keep-alive, 64 conns, per second of server CPU", "req/CPU-s",
         lambda s: requests_per_cpu_second(s, s.base + "/v2/bench/manifests/latest", 64, ACCEPT)),
        ("64 MiB blob GET, 4 conns", "GB/s", lambda s: wrk(s.base + big, 4)),
        ("new connections (Connection: close), 16 conns", "req/s",
         lambda s: wrk(s.base + "/v2/bench/manifests/latest", 16, ACCEPT, "Connection: close")),
    ]


def main():
    if not os.path.exists(bench.BERTH):
        sys.exit(f"{bench.BERTH} missing: run `make build` (or set BERTH_BIN)")
    workdir = tempfile.mkdtemp(prefix="berth-bench-tls-")
    os.chmod(workdir, 0o755)  # nginx's workers run as an unprivileged user and must read the content and key
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("bench tls: terminated"))
    try:
        certs = make_ca_and_server_cert(os.path.join(workdir, "certs"))
        for path in certs.values():
            os.chmod(path, 0o644)
        content = Content()
        nginx_root = os.path.join(workdir, "nginx-root")
        content.write_files(nginx_root)
        root = os.path.join(workdir, "berth-root")
        plain = start_berth(workdir, root, 1)
        content.load(plain.base)
        servers = [plain, start_berth(workdir, root, 1, certs), start_berth(workdir, root, 2, certs),
                   start_nginx(workdir, 1, nginx_root, certs), start_nginx(workdir, 2, nginx_root, certs)]
        time.sleep(1)
        results, rss = {}, {}
        load_list = loads(content)
        run_rounds(load_list, servers, results, rss)
        unit_of = {name: unit for name, unit, _ in load_list}
        columns = [s.name for s in servers]
        write_report(table(results, rss, unit_of, [columns[1]] + [c for c in columns if c != columns[1]], columns[1]))
    finally:
        for server in bench.STARTED:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def write_report(result_table):
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    section = f"""## TLS (latest figures)

Measured {when} by `bench/tls.py` ({bench.ROUNDS} rounds of {bench.SECONDS} s per load, alternating order,
the servers not measured stopped; median in bold, min–max in brackets; wrk with 2 threads on the same
{os.cpu_count()}-core machine). Same certificate (RSA 2048), TLS 1.2 and 1.3, the same AEAD suites; nginx with
`ssl_session_cache`, tickets and `sendfile` (without kernel TLS nginx also reads and encrypts the file).
Ratios are Berth TLS with 1 worker over each other column. The body path over TLS here is the fallback
(read + `SSL_write`): this kernel has no `tls` ULP.

{result_table}
"""
    bench.replace_section("## TLS (latest figures)", section)


if __name__ == "__main__":
    main()
