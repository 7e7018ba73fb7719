"""The mirror's upstream over TLS (a CA made here with the openssl CLI, `proxy.cafile`) behind Bearer token
authentication (a token service of the test's issuing RS256 JWTs that docker-registry 2.8 verifies against
`auth.token.rootcertbundle`), and behind Basic authentication (htpasswd)."""
import time

import pytest
import requests

from imagebuild import copy_from_registry
from mirrorutil import (TIMEOUT, HtpasswdReference, TLSTokenReference, TokenService,
                        assert_same_image, assert_upstream_has, bcrypt_entry, build_image, count_requests,
                        make_ca_and_server_cert, pull_through, push_to_upstream, settle_log, start_mirror,
                        start_registry_object, tag_link, write_mirror_config)
from regutil import OCI_MANIFEST, assert_error, describe

pytestmark = pytest.mark.berth_only  # the mirror is Berth's; docker-registry is the upstream here


@pytest.fixture
def tls_token_upstream(request, start_registry, tmp_path):
    """docker-registry on https://127.0.0.1:PORT (certificate of a CA of the test's) behind a token service
    that knows alice/secret (Berth's) and pusher/pushpw (skopeo's, to seed it)."""
    certs = make_ca_and_server_cert(tmp_path / "pki")
    tokens = TokenService(tmp_path / "tokens", {"alice": "secret", "pusher": "pushpw"}).start()
    request.addfinalizer(tokens.stop)
    upstream = start_registry_object(request, TLSTokenReference(tmp_path / "upstream", certs=certs, tokens=tokens))
    # The upstream really wants a token, and takes ours.
    r = requests.get(upstream.url("/v2/team/app/tags/list"), verify=certs["ca"], timeout=TIMEOUT)
    assert r.status_code == 401 and "Bearer" in r.headers.get("WWW-Authenticate", ""), describe(r)
    session = upstream.token_session("pusher", "pushpw", "repository:team/app:pull")
    r = session.get(upstream.url("/v2/"), timeout=TIMEOUT)
    assert r.status_code == 200, f"docker-registry refused the test token service's token\n{describe(r)}"
    return upstream, certs, tokens


def test_tls_upstream_with_token_auth_pulls_through_with_cafile_and_credentials(tls_token_upstream, start_berth,
                                                                                 tmp_path):
    upstream, certs, tokens = tls_token_upstream
    image = build_image(tmp_path / "src", "v1", nlayers=3)
    push_to_upstream(image, upstream, "team/app:v1", tmp_path, "--dest-creds", "pusher:pushpw")
    assert_upstream_has(upstream, "team/app", image,
                        session=upstream.token_session("pusher", "pushpw", "repository:team/app:pull"))
    seeded = len(tokens.requests)

    config = write_mirror_config(tmp_path, remoteurl=upstream.base_url, cafile=certs["ca"],
                                 username="alice", password="secret")
    berth, root = start_mirror(start_berth, tmp_path, config)
    assert_same_image(pull_through(berth, "team/app:v1", tmp_path / "pulled", tmp_path), image)
    r = requests.get(f"{berth.base_url}/v2/team/app/manifests/{image['digest']}", headers={"Accept": OCI_MANIFEST},
                     timeout=TIMEOUT)
    assert r.status_code == 200 and r.content == image["manifest"], describe(r)
    assert tag_link(root, "team/app", "v1") == image["digest"]

    berths = tokens.requests[seeded:]
    print(f"token service requests from Berth: {berths}")
    assert berths, "the token service saw no request from Berth"
    assert all(user == "alice" for user, _, _ in berths), f"Berth sent other credentials: {berths}"
    assert any("repository:team/app:pull" in " ".join(scopes) for _, scopes, _ in berths), berths
    # Each blob came over TLS once, with a token (the upstream logs the 200s).
    settle_log(upstream)
    for d in image["blobs"]:
        assert count_requests(upstream, "GET", f"/v2/team/app/blobs/{d}", statuses=(200,)) == 1, d


def test_tls_upstream_whose_ca_is_not_given_fails_with_a_json_error(tls_token_upstream, start_berth, tmp_path):
    upstream, certs, tokens = tls_token_upstream
    image = build_image(tmp_path / "src", "v1", nlayers=1)
    push_to_upstream(image, upstream, "team/app:v1", tmp_path, "--dest-creds", "pusher:pushpw")

    # No cafile: the system store, which does not know the test's CA.
    config = write_mirror_config(tmp_path, remoteurl=upstream.base_url, username="alice", password="secret",
                                 timeout="5s")
    berth, root = start_mirror(start_berth, tmp_path, config)
    for method, path in (("GET", "/v2/team/app/manifests/v1"), ("HEAD", "/v2/team/app/manifests/v1"),
                         ("GET", f"/v2/team/app/blobs/{next(iter(image['blobs']))}")):
        started = time.monotonic()
        r = requests.request(method, berth.base_url + path, headers={"Accept": OCI_MANIFEST}, timeout=30)
        print(f"{method} {path} without the CA -> {r.status_code} in {time.monotonic() - started:.2f}s: "
              f"{r.text[:400]!r}")
        assert_error(r, (502, 503), detail=True)
    with pytest.raises(AssertionError):
        copy_from_registry(berth, "team/app:v1", f"oci:{tmp_path / 'pulled'}:v1", tmp_path=tmp_path)
    assert tag_link(root, "team/app", "v1") is None
    assert not [u for u, _, _ in tokens.requests if u == "alice"], "Berth sent its credentials to an untrusted peer"


# --- Basic authentication ------------------------------------------------------------------------------------
def test_basic_auth_upstream_pulls_through_with_credentials(request, start_berth, tmp_path):
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(bcrypt_entry("alice", "secret") + "\n")
    upstream = start_registry_object(
        request, HtpasswdReference(tmp_path / "upstream", htpasswd, realm="berth-mirror-tests"))
    assert requests.get(upstream.url("/v2/"), auth=("alice", "secret"), timeout=TIMEOUT).status_code == 200
    image = build_image(tmp_path / "src", "v1", nlayers=2)
    push_to_upstream(image, upstream, "team/app:v1", tmp_path, "--dest-creds", "alice:secret")

    config = write_mirror_config(tmp_path, remoteurl=upstream.base_url, username="alice", password="secret")
    berth, _ = start_mirror(start_berth, tmp_path, config)
    assert_same_image(pull_through(berth, "team/app:v1", tmp_path / "pulled", tmp_path), image)
    settle_log(upstream)
    for d in image["blobs"]:
        assert count_requests(upstream, "GET", f"/v2/team/app/blobs/{d}", statuses=(200,)) == 1, d

    # Without credentials the upstream refuses: the tag is not there for Berth's clients (404, or an error).
    config = write_mirror_config(tmp_path, "anonymous", remoteurl=upstream.base_url)
    anonymous, _ = start_mirror(start_berth, tmp_path, config, name="anonymous")
    r = requests.get(f"{anonymous.base_url}/v2/team/app/manifests/v1", headers={"Accept": OCI_MANIFEST},
                     timeout=TIMEOUT)
    print(f"without credentials: {r.status_code} {r.text[:300]!r}")
    assert_error(r, (401, 403, 404, 502), detail=True)
