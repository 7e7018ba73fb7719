"""The mirror's upstream credentials go where they belong and nowhere else: to a token realm only over TLS
or on the upstream's own host (never in clear text to another host the upstream names), from a
`proxy.remoteurl` with `user:password@` as credentials (not as part of the host name), and never into a
body an anonymous client reads."""
import pytest
import requests

from mirrorutil import (TIMEOUT, TLSTokenReference, TokenService, make_ca_and_server_cert, start_mirror,
                        start_registry_object, write_mirror_config)
from regutil import assert_error, describe, free_port

pytestmark = pytest.mark.berth_only  # the mirror is Berth's; docker-registry is the upstream here


def _token_upstream(request, tmp_path, certs, *, tls_realm, realm_host):
    """docker-registry on https://127.0.0.1:PORT whose challenges name a token service of the test's that
    knows alice/secret, on plain HTTP or TLS, under the host name `realm_host`."""
    tokens = TokenService(tmp_path / "tokens", {"alice": "secret"}, certs=certs if tls_realm else None,
                          realm_host=realm_host).start()
    request.addfinalizer(tokens.stop)
    upstream = start_registry_object(request, TLSTokenReference(tmp_path / "upstream", certs=certs, tokens=tokens))
    return upstream, tokens


def _users_asking_for_tokens(berth, tokens):
    """Makes Berth fetch a manifest (the upstream challenges it, Berth asks the realm) and returns the users
    the token service saw (None: no credentials)."""
    r = requests.get(f"{berth.base_url}/v2/team/app/manifests/v1", timeout=TIMEOUT)
    assert r.status_code != 200, describe(r)  # nothing was pushed; the point is the token request
    users = [user for user, _, _ in tokens.requests]
    assert users, f"Berth never asked the token realm {tokens.realm}\n{describe(r)}"
    return users


@pytest.mark.parametrize("tls_realm, realm_host, sent", [
    (False, "localhost", False),  # clear text to another host: anonymous
    (False, "127.0.0.1", True),   # the upstream's own host (another port): credentials
    (True, "localhost", True),    # TLS to another host: credentials
], ids=["plain-other-host", "plain-own-host", "tls-other-host"])
def test_basic_credentials_go_to_a_token_realm_only_over_tls_or_on_the_upstreams_host(
        request, start_berth, tmp_path, tls_realm, realm_host, sent):
    certs = make_ca_and_server_cert(tmp_path / "pki")
    upstream, tokens = _token_upstream(request, tmp_path, certs, tls_realm=tls_realm, realm_host=realm_host)
    config = write_mirror_config(tmp_path, remoteurl=upstream.base_url, cafile=certs["ca"],
                                 username="alice", password="secret")
    berth, _ = start_mirror(start_berth, tmp_path, config)
    users = _users_asking_for_tokens(berth, tokens)
    print(f"realm {tokens.realm}: token requests by {users}")
    assert users == (["alice"] * len(users) if sent else [None] * len(users)), (tokens.realm, users)


def test_remoteurl_userinfo_is_taken_as_the_credentials(request, start_berth, tmp_path):
    certs = make_ca_and_server_cert(tmp_path / "pki")
    upstream, tokens = _token_upstream(request, tmp_path, certs, tls_realm=False, realm_host="127.0.0.1")
    address = upstream.base_url.replace("https://", "https://alice:secret@")
    config = write_mirror_config(tmp_path, remoteurl=address, cafile=certs["ca"])
    berth, _ = start_mirror(start_berth, tmp_path, config)
    # One snapshot: a token request may still arrive after it (a second fetch of the same miss).
    users = _users_asking_for_tokens(berth, tokens)
    assert users == ["alice"] * len(users), users


def test_remoteurl_credentials_are_in_no_answer(start_berth, tmp_path):
    # Nothing listens on the port: every fetch is a 503 that says why.
    config = write_mirror_config(tmp_path, remoteurl=f"http://bob:hunter2@127.0.0.1:{free_port()}")
    berth, _ = start_mirror(start_berth, tmp_path, config)
    answers = [
        requests.get(f"{berth.base_url}/v2/team/app/manifests/v1", timeout=TIMEOUT),
        requests.get(f"{berth.base_url}/v2/team/app/blobs/sha256:{'a' * 64}", timeout=TIMEOUT),
        requests.post(f"{berth.base_url}/v2/team/app/blobs/uploads/", timeout=TIMEOUT),
    ]
    assert [r.status_code for r in answers] == [503, 503, 405], [describe(r) for r in answers]
    for r in answers:
        text = r.text + "".join(f"{k}: {v}\n" for k, v in r.headers.items())
        assert "hunter2" not in text and "bob" not in text, describe(r)
        assert_error(r, (503, 405), "UNAVAILABLE", "UNSUPPORTED")
