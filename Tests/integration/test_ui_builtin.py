"""The web UI with auth.builtin: a browser cannot follow the registry's Bearer flow, so the pages take HTTP Basic
credentials of the issuer's htpasswd users, and the issuer's access rules decide: the pages need registry:catalog:*
as the rules grant it, a delete needs delete on its repository. A 401 carries a Basic challenge (the browser's login
box); a Bearer token granting registry:catalog:* passes as before. In curl's terms (requests) and in Chromium with
the credentials in the URL."""
import os

import pytest
import requests

from imagebuild import write_repositories
from regutil import TIMEOUT, free_port
from test_builtin_issuer import issuer_config, token
from test_htpasswd import Server, basic, htpasswd
from test_ui import _driver, _rows

pytestmark = pytest.mark.berth_only  # the UI is Berth's own

PASSWORDS = {"alice": "wonderland", "viewer": "look-only", "reader": "read-only"}
RULES = """    access:
      - {account: alice, name: "*", actions: ["*"]}
      - {account: alice, type: registry, name: catalog, actions: ["*"]}
      - {account: viewer, type: registry, name: catalog, actions: ["*"]}
      - {account: viewer, name: "*", actions: [pull]}
      - {account: reader, name: "*", actions: [pull]}
"""


@pytest.fixture
def berth(tmp_path):
    users = tmp_path / "htpasswd"
    for index, (user, password) in enumerate(PASSWORDS.items()):
        htpasswd(users, user, password, create=index == 0, cost=5)
    root = tmp_path / "root"
    write_repositories(str(root), 3)
    server = Server(tmp_path, issuer_config(root, f"127.0.0.1:{free_port()}", users, tmp_path / "keys" / "token.pem", rules=RULES))
    yield server
    server.stop()


def test_ui_pages_take_basic_logins_of_the_issuers_users_and_the_rules_decide(berth):
    r = berth.get("/ui/")
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Basic realm=")
    r = berth.get("/ui/", auth=basic("alice", "wrong"))
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Basic realm=")
    r = berth.get("/ui/", auth=basic("nobody", "wonderland"))
    assert r.status_code == 401
    # A user of the file whom the rules grant no registry:catalog:* sees no page.
    r = berth.get("/ui/", auth=basic("reader", "read-only"))
    assert r.status_code == 403 and "reader may not see" in r.text
    assert berth.get("/ui/r/org00/service-00000", auth=basic("reader", "read-only")).status_code == 403
    for user in ("alice", "viewer"):
        r = berth.get("/ui/", auth=basic(user, PASSWORDS[user]))
        assert r.status_code == 200 and "3 of 3 repositories" in r.text, (user, r.status_code)
        # Cached: the second request costs no bcrypt and gets the same.
        assert berth.get("/ui/overview", auth=basic(user, PASSWORDS[user])).status_code == 200


def test_a_delete_needs_delete_on_the_repository_and_only_then_is_offered(berth):
    page = "/ui/r/org00/service-00000"
    r = berth.get(page, auth=basic("viewer", "look-only"))
    assert r.status_code == 200 and "-/delete/" not in r.text
    assert berth.get(page + "/-/delete/latest", auth=basic("viewer", "look-only")).status_code == 403
    r = requests.post(berth.base + page + "/-/delete/latest", headers={"Authorization": basic("viewer", "look-only"), "Origin": berth.base},
                      timeout=TIMEOUT)
    assert r.status_code == 403
    assert "latest" in berth.get(page, auth=basic("alice", "wonderland")).text
    r = berth.get(page, auth=basic("alice", "wonderland"))
    assert r.status_code == 200 and page + "/-/delete/latest" in r.text
    assert berth.get(page + "/-/delete/latest", auth=basic("alice", "wonderland")).status_code == 200
    r = requests.post(berth.base + page + "/-/delete/latest", headers={"Authorization": basic("alice", "wonderland"), "Origin": berth.base},
                      timeout=TIMEOUT)
    assert r.status_code == 200 and 'id="result"' in r.text


def test_a_bearer_token_granting_the_catalog_still_passes(berth):
    granted = token(berth, "registry:catalog:*", auth=basic("alice", "wonderland"))["token"]
    assert berth.get("/ui/", auth="Bearer " + granted).status_code == 200
    refused = token(berth, "registry:catalog:*", auth=basic("reader", "read-only"))["token"]
    assert berth.get("/ui/", auth="Bearer " + refused).status_code == 401  # the token names no catalog at all


def test_chromium_logs_in_with_credentials_in_the_url(berth, tmp_path):
    driver = _driver()
    try:
        driver.get(f"http://alice:wonderland@{berth.host}/ui/")
        rows = _rows(driver, "repositories")
        assert [row.text.split()[0] for row in rows] == ["org00/service-00000", "org01/service-00001", "org02/service-00002"]
        # The style sheet came with the same login (a 401 would leave the page unstyled).
        assert driver.execute_script("return document.styleSheets[0].cssRules.length") > 0
        directory = os.environ.get("UI_SCREENSHOTS") or str(tmp_path)
        os.makedirs(directory, exist_ok=True)
        driver.save_screenshot(os.path.join(directory, "builtin-login.png"))
    finally:
        driver.quit()
