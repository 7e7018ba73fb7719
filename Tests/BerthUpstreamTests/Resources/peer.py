# The upstream the BerthUpstream tests talk to (PythonPeer.swift starts it): HTTP servers `main` and `other`,
# TLS servers when given certificates (argv: cert key wrong-name-cert wrong-name-key), and a listener that
# never speaks. Prints its ports as one JSON line once every server listens.
import base64, json, os, secrets, socket, ssl, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

USER, PASSWORD = "alice", "secret"
BASIC = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
lock = threading.Lock()
stats = {"token_requests": 0, "token_auth": [], "challenges": 0, "connections": 0, "completed": []}
tokens = {}
ports = {}
PATTERN = bytes(i % 251 for i in range(251 * 4096))

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        self.served = 0
        with lock:
            stats["connections"] += 1
            self.connection_id = stats["connections"]

    def do_GET(self):
        self.route()
    do_HEAD = do_POST = do_PUT = do_DELETE = do_GET

    def send(self, status, body=b"", headers=(), content_type="text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("X-Peer", self.server.name)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status, value, headers=()):
        self.send(status, json.dumps(value).encode(), headers, "application/json")

    def echo(self, body):
        self.send_json(200, {"method": self.command, "path": self.path, "headers": dict(self.headers.items()),
                             "body": body.decode("latin-1"), "connection": self.connection_id, "peer": self.server.name})

    def realm(self):
        return f"http://127.0.0.1:{ports['main']}/token"

    def bearer(self, scope):
        header = self.headers.get("Authorization", "")
        if header.startswith("Bearer ") and tokens.get(header[7:]) == scope:
            return True
        with lock:
            stats["challenges"] += 1
        challenge = f'Bearer realm="{self.realm()}",service="peer",scope="{scope}"'
        self.send_json(401, {"errors": [{"code": "UNAUTHORIZED"}]}, [("WWW-Authenticate", challenge)])
        return False

    def basic(self):
        if self.headers.get("Authorization") == BASIC:
            return True
        with lock:
            stats["challenges"] += 1
        self.send_json(401, {"errors": [{"code": "UNAUTHORIZED"}]}, [("WWW-Authenticate", 'Basic realm="peer"')])
        return False

    def route(self):
        self.served += 1
        path, _, query = self.path.partition("?")
        params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""

        if path == "/plain":
            self.send(200, b"hello upstream")
        elif path == "/echo":
            self.echo(body)
        elif path == "/bytes":
            n = int(params.get("n", "0"))
            self.send_response(200)
            self.send_header("Content-Length", str(n))
            self.end_headers()
            if self.command != "HEAD":
                sent = 0
                while sent < n:
                    piece = PATTERN[: min(len(PATTERN), n - sent)]
                    self.wfile.write(piece)
                    sent += len(piece)
                with lock:
                    stats["completed"].append(params.get("id", ""))
        elif path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in [b"alpha-", b"beta-", b"x" * 70000, b"-gamma"]:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        elif path == "/many-chunks":
            # Many small chunks in one write, so one read holds many body callbacks.
            n = int(params.get("n", "0"))
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            out = bytearray()
            for offset in range(0, n, 100):
                piece = PATTERN[offset % 251: offset % 251 + min(100, n - offset)]
                out += b"%x\r\n%s\r\n" % (len(piece), piece)
            self.wfile.write(bytes(out) + b"0\r\n\r\n")
        elif path == "/close-delimited":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"until the end")
            self.close_connection = True
        elif path == "/slow":
            self.send_response(200)
            self.send_header("Content-Length", "10")
            self.end_headers()
            for digit in b"0123456789":
                time.sleep(0.05)
                self.wfile.write(bytes([digit]))
        elif path == "/stall":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.write(b"start")
            time.sleep(60)
        elif path == "/truncated":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.write(b"only ten b")
            self.close_connection = True
        elif path == "/garbage":
            self.wfile.write(b"HTTP/1.1 abc\r\n\r\n")
            self.close_connection = True
        elif path == "/no-response-on-reuse":
            if self.served > 1:
                self.close_connection = True
            else:
                self.send(200, b"fresh")
        elif path == "/close-after":
            self.send(200, b"bye")
            self.close_connection = True
        elif path == "/redirect":
            self.send(302, b"", [("Location", params["to"].replace("%3A", ":").replace("%2F", "/"))])
        elif path == "/redirect-chain":
            n = int(params["n"])
            if n == 0:
                self.send(200, b"arrived")
            else:
                self.send(302, b"moved", [("Location", f"/redirect-chain?n={n - 1}")])
        elif path == "/see-other":
            self.send(303, b"", [("Location", "/echo")])
        elif path == "/token":
            with lock:
                stats["token_requests"] += 1
                stats["token_auth"].append(self.headers.get("Authorization", "none"))
            scope = params.get("scope", "").replace("%3A", ":").replace("%2F", "/").replace("%2C", ",")
            if params.get("service") != "peer":
                self.send(400, b"unknown service")
            elif "private" in scope and self.headers.get("Authorization") != BASIC:
                self.send(401, b"credentials needed")
            else:
                token = secrets.token_hex(16)
                tokens[token] = scope
                field = "access_token" if "private" in scope else "token"
                self.send_json(200, {field: token, "expires_in": 300})
        elif path == "/admin/revoke":
            tokens.clear()
            self.send(200, b"revoked")
        elif path == "/stats":
            with lock:
                self.send_json(200, stats)
        elif path.startswith("/v2/public/"):
            if self.bearer("repository:public:pull"):
                self.send(200, b"public content")
        elif path.startswith("/v2/private/"):
            if self.bearer("repository:private:pull"):
                self.send(200, b"private content")
        elif path.startswith("/v2/basic/"):
            if not self.basic():
                return
            if path.endswith("/redirect-away"):
                self.send(302, b"", [("Location", f"http://127.0.0.1:{ports['other']}/echo")])
            elif path.endswith("/redirect-home"):
                self.send(307, b"", [("Location", "/v2/basic/echo")])
            elif path.endswith("/echo"):
                self.echo(body)
            else:
                self.send(200, b"basic content")
        else:
            self.send(404, b"not found")

class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, name, context=None):
        super().__init__(("127.0.0.1", 0), Handler)
        self.name = name
        self.context = context

    def finish_request(self, request, client_address):
        # The handshake runs on the request's thread, so a client that never finishes it blocks nobody.
        if self.context is not None:
            try:
                request = self.context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
        self.RequestHandlerClass(request, client_address, self)

    def handle_error(self, request, client_address):
        pass

def tls_context(cert, key):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context

servers = {"main": Server("main"), "other": Server("other")}
if len(sys.argv) == 5:
    servers["tls"] = Server("tls", tls_context(sys.argv[1], sys.argv[2]))
    servers["tls_wrong_name"] = Server("tls_wrong_name", tls_context(sys.argv[3], sys.argv[4]))
for name, server in servers.items():
    ports[name] = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()

silent = socket.socket()
silent.bind(("127.0.0.1", 0))
silent.listen(16)
ports["silent"] = silent.getsockname()[1]
held = []
def hold():
    while True:
        connection, _ = silent.accept()
        held.append(connection)
threading.Thread(target=hold, daemon=True).start()

print(json.dumps(ports), flush=True)
threading.Event().wait()
