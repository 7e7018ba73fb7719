"""Helpers for the mirror-fleet tests (test_mirror_fleet*.py) and bench/fleet.py: three Berth mirror nodes
(`cluster.peers`) on their own loopback ports and roots in front of one upstream, nginx round-robin in front of
them, and the rendezvous ranking computed the way Berth does (Sources/BerthRegistry/Cluster/Rendezvous.swift),
so that a test knows which node owns a digest without asking Berth.
"""
import os
import subprocess
import time

import requests

from blobupstream import MiB, TIMEOUT  # noqa: F401 (MiB: the fleet tests take it from here)
from regutil import free_port

MASK = (1 << 64) - 1


def weight(node, key):
    """Rendezvous.weight: FNV-1a over node, a zero byte and key, then MurmurHash3's fmix64."""
    h = 0xcbf29ce484222325
    for byte in node.encode() + b"\0" + key.encode():
        h ^= byte
        h = (h * 0x100000001b3) & MASK
    h ^= h >> 33
    h = (h * 0xff51afd7ed558ccd) & MASK
    h ^= h >> 33
    h = (h * 0xc4ceb9fe1a85ec53) & MASK
    h ^= h >> 33
    return h


def ranking(nodes, digest):
    """The node URLs heaviest first for `digest` (`sha256:<hex>`), as every node of the fleet ranks them."""
    return sorted(nodes, key=lambda node: (-weight(node, digest), node))


def node_config(path, upstream_url, ports, index, extra=""):
    """A node's config: a mirror of `upstream_url`, one of the fleet of nodes on `ports`."""
    peers = ", ".join(f"http://127.0.0.1:{port}" for port in ports)
    path.write_text("log: {level: info}\n"
                    f"proxy:\n  remoteurl: '{upstream_url}'\n"
                    f"cluster:\n  peers: [{peers}]\n  self: http://127.0.0.1:{ports[index]}\n  timeout: 1s\n" + extra)
    return path


def nginx_conf(workdir, port, ports):
    """nginx as a round-robin load balancer in front of the nodes, streaming (no buffering to temporary files)."""
    servers = "".join(f"    server 127.0.0.1:{p} max_fails=0;\n" for p in ports)
    conf = os.path.join(workdir, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""worker_processes 1;
{"user root;" if os.geteuid() == 0 else ""}
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log {workdir}/nginx-access.log;
  client_body_temp_path {workdir}/nginx-body; proxy_temp_path {workdir}/nginx-proxy;
  fastcgi_temp_path {workdir}/nginx-fcgi; uwsgi_temp_path {workdir}/nginx-uwsgi; scgi_temp_path {workdir}/nginx-scgi;
  upstream fleet {{
{servers}    keepalive 32;
  }}
  server {{
    listen 127.0.0.1:{port};
    client_max_body_size 0;
    location / {{
      proxy_pass http://fleet;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 120s;
    }}
  }}
}}
""")
    return conf


class Balancer:
    """nginx in front of the nodes, started and stopped by its PID; `host` as a registry object has it."""

    def __init__(self, workdir, ports):
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.base_url = f"http://{self.host}"
        self.label = "nginx"
        conf = nginx_conf(str(workdir), self.port, ports)
        self.log = open(os.path.join(str(workdir), "nginx.out"), "ab")
        self.proc = subprocess.Popen(["nginx", "-c", conf, "-g", "daemon off;"], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + TIMEOUT
        while True:
            assert self.proc.poll() is None, f"nginx exited {self.proc.returncode}: {open(os.path.join(str(workdir), 'nginx-error.log')).read()}"
            try:
                requests.get(self.base_url + "/v2/", timeout=2)
                return
            except requests.RequestException:
                assert time.monotonic() < deadline, "nginx did not answer"
                time.sleep(0.05)

    def url(self, path):
        return self.base_url + path

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self.log.close()
