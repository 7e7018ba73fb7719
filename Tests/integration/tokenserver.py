"""A token server as docker's token spec describes it (docs/spec/auth/token.md), for the `auth.token` tests: a
separate process (a thread here would share the GIL with the clients' helpers, not the registry's loop: it is the
registry that is tested), signing with PyJWT and `cryptography` under a key whose certificate chain ends in a CA made
with the openssl CLI; that CA is the registry's `rootcertbundle`.

`GET /token?service=<service>&scope=<scope>[&scope=...]` with `Authorization: Basic` of a user answers
`{"token", "access_token", "expires_in", "issued_at"}`; the token grants, of each scope asked, the actions the user's
rules allow (an empty list when none). Wrong or no credentials get 401. Each request is appended to `requests.jsonl`
in the directory: {"user", "scopes", "granted"}.

As a library, `TokenKeys` makes the keys and certificates and `mint` signs a token by hand (any claims, header,
key), for the checks that real clients do not make."""

import base64
import fnmatch
import json
import os
import subprocess
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization

SERVICE = "berth-token-tests"
ISSUER = "berth-token-tests-issuer"


def openssl(*args, cwd):
    p = subprocess.run(["openssl", *args], cwd=str(cwd), capture_output=True, timeout=60)
    assert p.returncode == 0, f"openssl {' '.join(args)} failed: {p.stderr.decode(errors='replace')}"
    return p.stdout


class TokenKeys:
    """In `directory`: a CA (ca.pem), a P-256 signer certified by it (signer.pem, signer.key), an RSA signer
    certified by it (rsa.pem, rsa.key), and an unrelated self-signed P-256 key (other.pem, other.key)."""

    def __init__(self, directory):
        self.dir = str(directory)
        os.makedirs(self.dir, exist_ok=True)
        d = self.dir
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
                "-out", "ca.pem", "-days", "2", "-subj", "/CN=Berth token tests CA",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
        with open(os.path.join(d, "signer.ext"), "w") as f:
            f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n")
        for name, algorithm in (("signer", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]),
                                ("rsa", ["-newkey", "rsa:2048"])):
            openssl("req", *algorithm, "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                    "-subj", f"/CN=Berth token tests {name}", cwd=d)
            openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                    "-out", f"{name}.pem", "-days", "2", "-extfile", "signer.ext", cwd=d)
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "other.key",
                "-out", "other.pem", "-days", "2", "-subj", "/CN=Berth token tests stranger", cwd=d)

    def path(self, name):
        return os.path.join(self.dir, name)

    def key(self, name):
        with open(self.path(f"{name}.key"), "rb") as f:
            return f.read()

    def certificate_der(self, name):
        with open(self.path(f"{name}.pem"), "rb") as f:
            return x509.load_pem_x509_certificate(f.read()).public_bytes(serialization.Encoding.DER)

    def key_id(self, name):
        """libtrust's key id, as registry:2 matches a `kid`: SHA-256 of the DER SubjectPublicKeyInfo, 240 bits,
        base32, groups of four."""
        import hashlib
        with open(self.path(f"{name}.pem"), "rb") as f:
            public = x509.load_pem_x509_certificate(f.read()).public_key()
        der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        text = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
        return ":".join(text[i:i + 4] for i in range(0, len(text), 4))

    def bundle(self, *names, filename="bundle.pem"):
        """A rootcertbundle of the named certificates."""
        path = self.path(filename)
        with open(path, "w") as out:
            for name in names:
                with open(self.path(f"{name}.pem")) as f:
                    out.write(f.read())
        return path

    def mint(self, subject, access, *, signer="signer", header="x5c", issuer=ISSUER, audience=SERVICE,
             expires_in=300, not_before=None, now=None):
        """A token signed by `signer`, naming its key by `header`: "x5c" (the signer's certificate), "kid" (its libtrust
        id) or a dict of header fields. `access` is a list of (type, name, [actions])."""
        now = int(time.time()) if now is None else now
        algorithm = "RS256" if signer == "rsa" else "ES256"
        if header == "x5c":
            fields = {"x5c": [base64.b64encode(self.certificate_der(signer)).decode()]}
        elif header == "kid":
            fields = {"kid": self.key_id(signer)}
        else:
            fields = dict(header)
        claims = {"iss": issuer, "sub": subject, "aud": audience, "exp": now + expires_in,
                  "nbf": now - 10 if not_before is None else not_before, "iat": now, "jti": uuid.uuid4().hex,
                  "access": [{"type": t, "name": n, "actions": list(a)} for t, n, a in access]}
        return jwt.encode(claims, self.key(signer), algorithm=algorithm, headers=fields)


def granted(rules, scope):
    """The (type, name, actions) a user's `rules` ([type, name pattern, [actions]]) grant of one scope string."""
    kind, _, rest = scope.partition(":")
    name, _, actions = rest.rpartition(":")
    if not name:
        return None
    asked = [a for a in actions.split(",") if a]
    allowed = set()
    for rule_type, pattern, rule_actions in rules:
        if rule_type == kind and fnmatch.fnmatchcase(name, pattern):
            allowed |= set(asked) if "*" in rule_actions else set(rule_actions) & set(asked)
    return (kind, name, sorted(allowed))


def serve(directory, port_file, users_file):
    keys = TokenKeys.__new__(TokenKeys)
    keys.dir = str(directory)
    with open(users_file) as f:
        users = json.load(f)  # {name: {"password": ..., "rules": [[type, pattern, [actions]]]}}
    log_path = os.path.join(keys.dir, "requests.jsonl")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            scopes = [s for value in query.get("scope", []) for s in value.split(" ") if s]
            user = None
            auth = self.headers.get("Authorization", "")
            if auth.lower().startswith("basic "):
                try:
                    name, _, password = base64.b64decode(auth[6:].strip()).decode().partition(":")
                except Exception:
                    name, password = "", None
                if name in users and users[name]["password"] == password:
                    user = name
            access = []
            if user is not None:
                access = [g for g in (granted(users[user]["rules"], s) for s in scopes) if g is not None]
            with open(log_path, "a") as log:
                log.write(json.dumps({"user": user, "scopes": scopes, "granted": access}) + "\n")
            if url.path != "/token" or user is None:
                self.answer(401, {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]},
                            [("WWW-Authenticate", 'Basic realm="berth token tests"')])
                return
            token = keys.mint(user, access, expires_in=int(query.get("expires_in", ["300"])[0]))
            self.answer(200, {"token": token, "access_token": token, "expires_in": 300,
                              "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})

        def answer(self, status, body, headers=()):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(port_file + ".tmp", port_file)
    server.serve_forever(poll_interval=0.2)


class TokenServer:
    """The token server as a child process (stopped by PID); `realm` is its /token URL."""

    def __init__(self, keys, users):
        self.keys = keys
        users_file = keys.path("users.json")
        with open(users_file, "w") as f:
            json.dump(users, f)
        port_file = keys.path("port")
        if os.path.exists(port_file):
            os.unlink(port_file)
        self.log = open(keys.path("tokenserver.log"), "ab")
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), keys.dir, port_file, users_file],
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 30
        while not os.path.exists(port_file):
            assert self.proc.poll() is None, f"the token server exited {self.proc.returncode}"
            assert time.monotonic() < deadline, "the token server did not start"
            time.sleep(0.05)
        with open(port_file) as f:
            self.port = int(f.read())
        self.realm = f"http://127.0.0.1:{self.port}/token"

    def requests(self):
        path = self.keys.path("requests.jsonl")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2], sys.argv[3])
