"""Servers of the mirror benchmark: docker-registry as the upstream (plain and TLS, a CA made with the openssl
CLI), the blobs seeded into it, and a fresh Berth or docker-registry proxy per use."""
import hashlib
import os
import re
import shutil
import subprocess

import requests

from bench import MiB, STARTED, Server, free_port

REPO = "bench/blob"


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(directory):
    """A CA and a certificate for 127.0.0.1 signed by it (the openssl CLI): {ca, cert, key}."""
    os.makedirs(directory)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=Berth bench CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=directory)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=127.0.0.1", cwd=directory)
    with open(os.path.join(directory, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "server.ext", cwd=directory)
    return {name: os.path.join(directory, file) for name, file in
            (("ca", "ca.pem"), ("cert", "server.pem"), ("key", "server.key"))}


def docker_registry(work, name, root, extra="", cafile=None, env=None):
    """docker-registry on a free port; `extra` is YAML appended (http.tls, proxy)."""
    port = free_port()
    config = os.path.join(work, f"{name}.yml")
    with open(config, "w") as f:
        f.write(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {root}\n"
                f"  maintenance:\n    uploadpurging:\n      enabled: false\nhttp:\n  addr: 127.0.0.1:{port}\n{extra}")
    return Server(name, ["docker-registry", "serve", config], work, port=port, cafile=cafile, env=env)


class Upstreams:
    """One docker-registry store served twice: over plain HTTP (pushed to; its access log counts GETs)
    and over TLS."""

    def __init__(self, work, tls):
        root = os.path.join(work, "upstream")
        self.plain = docker_registry(work, "upstream", root)
        self.certs = make_ca(os.path.join(work, "pki")) if tls else None
        self.tls = docker_registry(work, "upstream-tls", root, cafile=self.certs["ca"],
                                   extra=f"  tls:\n    certificate: {self.certs['cert']}\n    key: {self.certs['key']}\n") if tls else None

    def kinds(self):
        return [("plain", self.plain.base, None)] + ([("TLS", self.tls.base, self.certs["ca"])] if self.tls else [])

    def gets(self, digest):
        with open(self.plain.log) as f:
            return sum(1 for line in f if re.search(rf'"GET /v2/{REPO}/blobs/{digest} ', line))


SEEDED = {}  # MiB -> digest: one blob per size, shared by the scenarios


def seed(work, upstream, mib):
    """A blob of `mib` MiB of random bytes pushed to the upstream, streamed from a file that is then removed."""
    if mib in SEEDED:
        return SEEDED[mib]
    path = os.path.join(work, "seed")
    h = hashlib.sha256()
    with open(path, "wb") as f:
        for _ in range(mib):
            chunk = os.urandom(MiB)
            h.update(chunk)
            f.write(chunk)
    digest = "sha256:" + h.hexdigest()
    r = requests.post(f"{upstream.base}/v2/{REPO}/blobs/uploads/", timeout=60)
    location = r.headers["Location"]
    location = location if location.startswith("http") else upstream.base + location
    with open(path, "rb") as body:
        r = requests.put(f"{location}{'&' if '?' in location else '?'}digest={digest}", data=body, timeout=3600,
                         headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 201, r.text
    os.remove(path)
    SEEDED[mib] = digest
    return digest


class Mirrors:
    """Starts a fresh server per use: Berth (a binary, a fsync setting) or docker-registry's proxy."""

    def __init__(self, work):
        self.work = work
        self.count = 0

    def berth(self, binary, remote, cafile, workers=1, fsync=False):
        self.count += 1
        n = self.count
        config = os.path.join(self.work, f"berth-{n}.yml")
        with open(config, "w") as f:
            f.write(f"proxy:\n  remoteurl: {remote}\n" + (f"  cafile: {cafile}\n" if cafile else "") +
                    f"storage:\n  filesystem:\n    fsync: {'true' if fsync else 'false'}\n")
        root = os.path.join(self.work, f"berth-{n}")
        server = Server(f"berth-{n}", [binary, "serve", "--config", config, "--addr", "127.0.0.1:PORT", "--root", root,
                                       "--workers", str(workers), "--log-level", "warn"], self.work)
        server.root = root
        return server

    def proxy(self, remote, cafile):
        self.count += 1
        root = os.path.join(self.work, f"proxy-{self.count}")
        server = docker_registry(self.work, f"proxy-{self.count}", root, extra=f"proxy:\n  remoteurl: {remote}\n",
                                 env={"SSL_CERT_FILE": cafile} if cafile else None)
        server.root = root
        return server

    @staticmethod
    def done(server):
        server.stop()
        STARTED.remove(server)
        shutil.rmtree(server.root, ignore_errors=True)
