"""A registry upstream in a thread of the test (or of bench/fleet.py) that serves blobs and keeps the books a
mirror test reads from the upstream's side: which digests were asked, in order, and how many GETs it held at
once. A gated blob sends its head and first MiB, then waits until the test lets it go, so a test can hold a
download open while it looks at the mirror."""
import hashlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from regutil import free_port

MiB = 1 << 20
TIMEOUT = 60  # seconds, only to avoid hangs


def digest_of(blob):
    return "sha256:" + hashlib.sha256(blob).hexdigest()


class BlobUpstream:
    """Serves each added blob under /v2/<any repository>/blobs/<digest> (404 for others), and `/v2/`."""

    def __init__(self):
        self.blobs = {}  # digest -> bytes
        self.gates = {}  # digest -> threading.Event, for gated blobs
        self.lock = threading.Lock()
        self.gets = []  # digests, in the order asked
        self.active = 0
        self.most_active = 0
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path == "/v2/":
                    return self._send(200, b"{}")
                digest = self.path.rsplit("/", 1)[-1] if "/blobs/" in self.path else None
                if digest not in upstream.blobs:
                    return self._send(404, b"")
                upstream._began(digest)
                try:
                    blob = upstream.blobs[digest]
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.send_header("Content-Length", str(len(blob)))
                    self.send_header("Docker-Content-Digest", digest)
                    self.end_headers()
                    gate = upstream.gates.get(digest)
                    if gate:
                        self.wfile.write(blob[:MiB])
                        self.wfile.flush()
                        gate.wait(TIMEOUT)
                        self.wfile.write(blob[MiB:])
                    else:
                        self.wfile.write(blob)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # a mirror node killed by the test, or a download it gave up
                finally:
                    upstream._ended()

            def _send(self, status, body):
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add(self, blob, gated=False):
        """Serves `blob` from now on; returns its digest."""
        digest = digest_of(blob)
        self.blobs[digest] = blob
        if gated:
            self.gates[digest] = threading.Event()
        return digest

    def _began(self, digest):
        with self.lock:
            self.gets.append(digest)
            self.active += 1
            self.most_active = max(self.most_active, self.active)

    def _ended(self):
        with self.lock:
            self.active -= 1

    def asked(self):
        with self.lock:
            return list(self.gets)

    def count(self, digest):
        return self.asked().count(digest)

    def wait_for_gets(self, count):
        deadline = time.monotonic() + TIMEOUT
        while len(self.asked()) < count:
            assert time.monotonic() < deadline, f"the upstream was asked {self.asked()}, not {count} GETs"
            time.sleep(0.02)

    def release(self, digest):
        self.gates[digest].set()

    def open_all(self):
        for gate in self.gates.values():
            gate.set()

    def stop(self):
        self.open_all()
        self.server.shutdown()
        self.server.server_close()
