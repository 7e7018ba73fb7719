"""Berth's web UI (`/ui/`) in a real browser: Debian's chromium, headless, driven by Selenium through
chromedriver. Images are pushed with skopeo (a two-platform index whose config and manifests carry hostile
labels and annotations) and a referrer with oras-py; the tests open the pages, search, page, follow links to a
tag, its platforms, layers and referrer, delete a tag behind the confirmation page, read the overview's counts
and a mirror's cache hit, and read everything with JavaScript off. Screenshots go to $UI_SCREENSHOTS (or the
test's tmp dir) as PNG files."""
import json
import os
import re
import subprocess
import time

import oras.client
import oras.oci
import pytest
import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By

from imagebuild import Layout, canonical_json, copy_to_registry, make_layer, write_repositories
from mirrorutil import pull_through, push_to_upstream, build_image, start_mirror, write_mirror_config
from regutil import OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST, TIMEOUT, digest_of, free_port, push_image, wait_for
from test_htpasswd import Server, registry2_config

pytestmark = pytest.mark.berth_only  # the UI is Berth's own; docker-registry has none

HOSTILE_LABEL = "<script>alert('label')</script>"
HOSTILE_ANNOTATION = '"><img src=x onerror=alert(1)>'


# --- the browser ---------------------------------------------------------------------------------------------
def _driver(javascript=True):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1500"):
        options.add_argument(argument)
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


@pytest.fixture(scope="module")
def browser():
    driver = _driver()
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def browser_without_javascript():
    driver = _driver(javascript=False)
    yield driver
    driver.quit()


@pytest.fixture
def screenshot(browser, tmp_path, request):
    directory = os.environ.get("UI_SCREENSHOTS") or str(tmp_path)
    os.makedirs(directory, exist_ok=True)

    def take(name, driver=browser):
        path = os.path.join(directory, f"{request.node.name}-{name}.png")
        assert driver.save_screenshot(path), path
        assert os.path.getsize(path) > 1000, path
        return path
    return take


def _text(driver, element_id):
    return driver.find_element(By.ID, element_id).text


def _text_while_swapped(driver, element_id):
    """The element's text, or "" when the page's script replaced it between the lookup and the read."""
    try:
        return _text(driver, element_id)
    except (StaleElementReferenceException, NoSuchElementException):
        return ""


def _submit(driver, button_id, then_id):
    """Clicks a form's button and waits for the answer's page (a click does not wait for a POST's page)."""
    driver.find_element(By.ID, button_id).click()
    wait_for(lambda: driver.find_elements(By.ID, then_id), f"the page with #{then_id}", timeout=15)


def _rows(driver, table_id):
    return driver.find_elements(By.CSS_SELECTOR, f"#{table_id} tbody tr")


# --- images ------------------------------------------------------------------------------------------------
def _image(layout, arch, nlayers):
    layers = [make_layer(nfiles=1, size=3000 + 1000 * i) for i in range(nlayers)]
    config = canonical_json({
        "architecture": arch, "os": "linux", "created": "2026-11-30T12:34:56Z",
        "config": {"Entrypoint": ["/bin/app"], "Cmd": ["--serve"], "Env": ["PATH=/usr/bin", "MODE=<b>bold</b>"],
                   "Labels": {"org.example.note": HOSTILE_LABEL, "org.example.team": "platform"}},
        "rootfs": {"type": "layers", "diff_ids": [digest_of(raw) for _, raw in layers]},
        "history": [{"created_by": f"ADD layer {i} for {arch}"} for i in range(nlayers)],
    })
    layout.add_blob(config)
    for gz, _ in layers:
        layout.add_blob(gz)
    manifest = canonical_json({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": digest_of(config), "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER_GZIP, "digest": digest_of(gz), "size": len(gz)} for gz, _ in layers],
        "annotations": {"org.example.evil": HOSTILE_ANNOTATION},
    })
    layout.add_blob(manifest)
    return {"manifest": manifest, "digest": digest_of(manifest), "arch": arch, "config": config,
            "layers": [gz for gz, _ in layers]}


def push_two_platform_image(registry, tmp_path, ref="team/app:v1"):
    """An index of linux/amd64 (2 layers) and linux/arm64 (3 layers), pushed by `skopeo copy --all`."""
    layout = Layout(tmp_path / f"layout-{ref.replace('/', '-').replace(':', '-')}")
    images = [_image(layout, "amd64", 2), _image(layout, "arm64", 3)]
    index = canonical_json({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": i["digest"], "size": len(i["manifest"]),
                       "platform": {"architecture": i["arch"], "os": "linux"}} for i in images],
        "annotations": {"org.example.index": HOSTILE_ANNOTATION},
    })
    layout.add_blob(index)
    tag = ref.rsplit(":", 1)[1]
    layout.tag(tag, OCI_INDEX, index)
    copy_to_registry(f"oci:{layout.path}:{tag}", registry, ref, "--all", "--preserve-digests", tmp_path=tmp_path)
    return {"index": index, "digest": digest_of(index), "images": images}


def push_referrer(registry, tmp_path, monkeypatch, subject, repository="team/app"):
    """An SBOM-like artifact whose subject is the index `subject` (its bytes), pushed by oras-py (tagged `sbom`)."""
    subject_digest = digest_of(subject)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sbom.json").write_text(json.dumps({"spdxVersion": "SPDX-2.3", "name": "app"}))
    client = oras.client.OrasClient(hostname=registry.host, insecure=True)
    response = client.push(target=f"{registry.host}/{repository}:sbom", files=["sbom.json"],
                           subject=oras.oci.Subject(OCI_INDEX, subject_digest, len(subject)),
                           manifest_annotations={"org.example.kind": "sbom"})
    assert response.status_code in (200, 201), response.text
    listed = requests.get(registry.url(f"/v2/{repository}/referrers/{subject_digest}"), timeout=TIMEOUT).json()
    assert len(listed["manifests"]) == 1, listed
    return listed["manifests"][0]["digest"]


def _tags(registry, repository):
    return requests.get(registry.url(f"/v2/{repository}/tags/list"), timeout=TIMEOUT).json().get("tags") or []


# --- browsing --------------------------------------------------------------------------------------------------
def test_search_finds_the_image_its_tag_shows_two_platforms_layers_and_the_referrer(registry, browser, screenshot,
                                                                                   tmp_path, monkeypatch):
    pushed = push_two_platform_image(registry, tmp_path)
    for name in ("tools/builder", "zeta/other"):
        push_image(registry.base_url, name, "latest")
    referrer = push_referrer(registry, tmp_path, monkeypatch, pushed["index"])

    browser.get(registry.url("/ui/"))
    assert browser.title.startswith("Repositories")
    assert _text(browser, "count").startswith("3 of 3 repositories")
    box = browser.find_element(By.NAME, "q")
    box.send_keys("app")
    box.submit()
    wait_for(lambda: "q=app" in browser.current_url, "the search to load")
    names = [row.find_element(By.TAG_NAME, "a").text for row in _rows(browser, "repositories")]
    assert names == ["team/app"], names
    assert _text(browser, "count").startswith("1 of 3 repositories")
    screenshot("search")

    browser.find_element(By.LINK_TEXT, "team/app").click()
    assert _text(browser, "name") == "team/app"
    rows = {row.get_attribute("data-tag"): row for row in _rows(browser, "tags")}
    assert set(rows) == {"v1", "sbom"}, rows.keys()
    v1 = rows["v1"]
    assert [p.text for p in v1.find_elements(By.CLASS_NAME, "platform")] == ["linux/amd64", "linux/arm64"]
    assert OCI_INDEX in v1.text and "2026-11-30 12:34 UTC" in v1.text
    assert pushed["digest"][:19] in v1.find_element(By.TAG_NAME, "code").text
    commands = _text(browser, "pull-commands")
    assert f"docker pull {registry.host}/team/app:" in commands
    assert f"podman pull --tls-verify=false {registry.host}/team/app:" in commands
    assert f"skopeo copy --src-tls-verify=false docker://{registry.host}/team/app:" in commands
    assert f"oras pull --plain-http {registry.host}/team/app:" in commands
    screenshot("repository")

    v1.find_element(By.LINK_TEXT, "v1").click()
    assert _text(browser, "reference") == "v1"
    children = _rows(browser, "children")
    assert [c.find_element(By.CLASS_NAME, "platform").text for c in children] == ["linux/amd64", "linux/arm64"]
    referrers = _rows(browser, "referrers")
    assert len(referrers) == 1 and referrer[:19] in referrers[0].text, [r.text for r in referrers]
    assert HOSTILE_ANNOTATION in _text(browser, "annotations")
    screenshot("index")

    # The referrer's own page names its subject.
    referrers[0].find_element(By.TAG_NAME, "a").click()
    assert _text(browser, "reference") == referrer
    assert pushed["digest"] in _text(browser, "subject")
    browser.back()

    arm = next(c for c in _rows(browser, "children") if "arm64" in c.text)
    arm.find_element(By.TAG_NAME, "a").click()
    image = pushed["images"][1]
    assert _text(browser, "reference") == image["digest"]
    layers = _rows(browser, "layers")
    assert len(layers) == 3
    for row, gz in zip(layers, image["layers"]):
        assert digest_of(gz)[:19] in row.text and OCI_LAYER_GZIP in row.text
    config = _text(browser, "config")
    assert "linux/arm64" in config and "/bin/app" in config and "--serve" in config and "MODE=<b>bold</b>" in config
    assert "ADD layer 2 for arm64" in _text(browser, "history")
    screenshot("manifest")


def test_hostile_labels_and_annotations_are_shown_as_text(registry, browser, tmp_path):
    pushed = push_two_platform_image(registry, tmp_path)
    amd = pushed["images"][0]["digest"]
    browser.get(registry.url(f"/ui/r/team/app/-/manifest/{amd}"))
    labels = _text(browser, "labels")
    assert HOSTILE_LABEL in labels, labels
    assert HOSTILE_ANNOTATION in _text(browser, "annotations")
    # Shown as text: no element was made of them, and no script but the UI's own file is on the page.
    assert [e.get_attribute("src") for e in browser.find_elements(By.TAG_NAME, "script")] == \
        [registry.url("/ui/static/berth.js?v=") + _asset_version(browser.page_source, "berth.js")]
    assert browser.find_elements(By.CSS_SELECTOR, "main img") == []
    assert browser.find_elements(By.CSS_SELECTOR, "main b") == []
    page = requests.get(registry.url(f"/ui/r/team/app/-/manifest/{amd}"), timeout=TIMEOUT)
    assert "<script>" not in page.text and "&lt;script&gt;alert(&#39;label&#39;)&lt;/script&gt;" in page.text
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page.text
    # Only this server's script files run: no inline script, no event handler attribute, no other site.
    policy = page.headers["Content-Security-Policy"]
    assert policy.startswith("default-src 'none'") and "script-src 'self';" in policy and "unsafe" not in policy


def _asset_version(html, name):
    return re.search(rf'/ui/static/{re.escape(name)}\?v=([0-9a-f]+)"', html).group(1)


def test_copy_buttons_and_search_as_you_type_with_javascript(registry, browser):
    for name in ("team/app", "tools/builder", "zeta/other"):
        push_image(registry.base_url, name, "latest")
    browser.execute_cdp_cmd("Browser.grantPermissions", {"origin": registry.url("").rstrip("/"),
                                                         "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})
    browser.get(registry.url("/ui/r/team/app"))
    lines = browser.find_elements(By.CSS_SELECTOR, "#pull-commands code")
    buttons = browser.find_elements(By.CSS_SELECTOR, "#pull-commands button.copy")
    assert len(buttons) == len(lines) == 4
    buttons[2].click()
    wait_for(lambda: buttons[2].text == "Copied", "the copy button to say it copied", timeout=10, interval=0.1)
    copied = browser.execute_async_script("navigator.clipboard.readText().then(arguments[0], e => arguments[0]('failed: ' + e))")
    assert copied == lines[2].text and copied.startswith("skopeo copy"), copied

    browser.get(registry.url("/ui/"))
    assert _text(browser, "count").startswith("3 of 3 repositories")
    browser.find_element(By.NAME, "q").send_keys("tool")  # no Enter: the page asks as you type
    wait_for(lambda: _text_while_swapped(browser, "count").startswith("1 of 3 repositories"), "the list to filter as the search is typed",
             timeout=10, interval=0.1)
    def listed():
        try:
            return [row.find_element(By.TAG_NAME, "a").text for row in _rows(browser, "repositories")]
        except (StaleElementReferenceException, NoSuchElementException):
            return None
    # Each typed letter asks again; the last answer (for "tool") may replace the list once more.
    wait_for(lambda: listed() == ["tools/builder"] and browser.current_url.endswith("/ui/?q=tool"),
             "the list and the address to show the search for 'tool'", timeout=10, interval=0.1)

    # The script is served as the style sheet is: versioned link, ETag, a day's max-age, 304 on revalidation.
    version = _asset_version(requests.get(registry.url("/ui/"), timeout=TIMEOUT).text, "berth.js")
    js = requests.get(registry.url("/ui/static/berth.js?v=" + version), timeout=TIMEOUT)
    assert js.status_code == 200 and js.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert js.headers["Cache-Control"] == "public, max-age=86400" and js.headers["ETag"].strip('"') == version
    again = requests.get(registry.url("/ui/static/berth.js"), headers={"If-None-Match": js.headers["ETag"]}, timeout=TIMEOUT)
    assert again.status_code == 304


def test_repositories_page_by_n_and_last_with_a_search(registry, browser):
    names = [f"page/repo-{i}" for i in range(7)] + ["other/x"]
    for name in names:
        push_image(registry.base_url, name, "v1", nlayers=1, layer_size=64)
    seen = []
    browser.get(registry.url("/ui/?q=repo&n=3"))
    while True:
        seen.append([row.find_element(By.TAG_NAME, "a").text for row in _rows(browser, "repositories")])
        links = browser.find_elements(By.ID, "next")
        if not links:
            break
        links[0].click()
    assert seen == [["page/repo-0", "page/repo-1", "page/repo-2"], ["page/repo-3", "page/repo-4", "page/repo-5"],
                    ["page/repo-6"]], seen
    assert "q=repo" in browser.current_url and "last=page/repo-5" in browser.current_url


def test_reading_works_with_javascript_off(registry, browser_without_javascript, screenshot, tmp_path):
    driver = browser_without_javascript
    pushed = push_two_platform_image(registry, tmp_path)
    driver.get(registry.url("/ui/"))
    driver.find_element(By.NAME, "q").send_keys("team")
    driver.find_element(By.CSS_SELECTOR, "form.search button").click()
    wait_for(lambda: "q=team" in driver.current_url, "the search to load")
    driver.find_element(By.LINK_TEXT, "team/app").click()
    driver.find_element(By.LINK_TEXT, "v1").click()
    assert len(_rows(driver, "children")) == 2
    driver.find_elements(By.CSS_SELECTOR, "#children a")[0].click()
    assert _text(driver, "reference") == pushed["images"][0]["digest"]
    assert len(_rows(driver, "layers")) == 2
    screenshot("no-javascript", driver=driver)


# --- delete ----------------------------------------------------------------------------------------------------
def test_delete_a_tag_after_confirming_it_leaves_the_list_and_tags_list(registry, browser, screenshot):
    push_image(registry.base_url, "team/app", "v1")
    push_image(registry.base_url, "team/app", "v2")
    browser.get(registry.url("/ui/r/team/app"))
    row = next(r for r in _rows(browser, "tags") if r.get_attribute("data-tag") == "v1")
    row.find_element(By.LINK_TEXT, "Delete").click()
    # The confirmation page deletes nothing by itself.
    assert "v1" in _text(browser, "consequence")
    assert _tags(registry, "team/app") == ["v1", "v2"]
    screenshot("confirm")
    _submit(browser, "confirm", "result")
    assert _text(browser, "result") == "Deleted tag team/app:v1"
    screenshot("deleted")
    browser.find_element(By.LINK_TEXT, "Back to team/app").click()
    assert [r.get_attribute("data-tag") for r in _rows(browser, "tags")] == ["v2"]
    assert _tags(registry, "team/app") == ["v2"]


def test_delete_of_a_manifest_takes_its_tags(registry, browser):
    image = push_image(registry.base_url, "team/app", "v1")
    requests.put(registry.url(f"/v2/team/app/manifests/also"), data=image["manifest"],
                 headers={"Content-Type": OCI_MANIFEST}, timeout=TIMEOUT).raise_for_status()
    browser.get(registry.url(f"/ui/r/team/app/-/manifest/{image['digest']}"))
    browser.find_element(By.ID, "delete").click()
    assert "also" in browser.find_element(By.TAG_NAME, "main").text
    _submit(browser, "confirm", "result")
    assert image["digest"] in _text(browser, "result")
    assert _tags(registry, "team/app") == []
    r = requests.get(registry.url(f"/v2/team/app/manifests/{image['digest']}"), timeout=TIMEOUT)
    assert r.status_code == 404


def test_delete_from_another_origin_or_without_one_is_refused(registry):
    push_image(registry.base_url, "team/app", "v1")
    url = registry.url("/ui/r/team/app/-/delete/v1")
    for headers in ({}, {"Origin": "http://evil.example"}, {"Origin": "null"},
                    {"Referer": "http://evil.example/ui/"}, {"Origin": f"http://{registry.host}.evil.example"}):
        r = requests.post(url, headers=headers, timeout=TIMEOUT)
        assert r.status_code == 403, (headers, r.status_code)
    assert _tags(registry, "team/app") == ["v1"]
    # A GET of the delete path only asks.
    assert requests.get(url, timeout=TIMEOUT).status_code == 200
    assert _tags(registry, "team/app") == ["v1"]
    r = requests.post(url, headers={"Origin": f"http://{registry.host}"}, timeout=TIMEOUT)
    assert r.status_code == 200 and "Deleted tag team/app:v1" in r.text
    assert _tags(registry, "team/app") == []


def test_delete_is_refused_and_not_offered_when_deletes_are_disabled(start_berth, browser):
    berth = start_berth(env={"BERTH_STORAGE_DELETE_ENABLED": "false"})
    push_image(berth.base_url, "team/app", "v1")
    browser.get(berth.url("/ui/r/team/app"))
    assert browser.find_elements(By.LINK_TEXT, "Delete") == []
    browser.find_element(By.LINK_TEXT, "v1").click()
    assert browser.find_elements(By.ID, "delete") == []
    browser.get(berth.url("/ui/r/team/app/-/delete/v1"))
    assert _text(browser, "error") == "Deletes are disabled"
    r = requests.post(berth.url("/ui/r/team/app/-/delete/v1"), headers={"Origin": f"http://{berth.host}"}, timeout=TIMEOUT)
    assert r.status_code == 405 and "storage.delete.enabled" in r.text
    assert _tags(berth, "team/app") == ["v1"]


# --- overview --------------------------------------------------------------------------------------------------
def test_overview_counts_what_was_pushed(registry, browser, screenshot):
    images = [push_image(registry.base_url, "team/a", "v1", nlayers=2, layer_size=5000),
              push_image(registry.base_url, "team/b", "v1", nlayers=3, layer_size=7000)]
    blobs = {}
    for image in images:
        for data in [image["manifest"], image["config"], *image["layers"]]:
            blobs[digest_of(data)] = len(data)
    r = requests.post(registry.url("/v2/team/a/blobs/uploads/"), timeout=TIMEOUT)
    assert r.status_code == 202
    # With several workers the others' request counts arrive within a second (their metric snapshots).
    def counted():
        browser.get(registry.url("/ui/overview"))
        return int(_text(browser, "registry-requests")) >= 2 * 5
    wait_for(counted, "the overview to count the pushes", timeout=15, interval=0.5)
    assert _text(browser, "blobs") == str(len(blobs))
    assert _text(browser, "repositories") == "2"
    assert _text(browser, "uploads") == "1"
    assert _text(browser, "disk") == f"{sum(blobs.values()) / 1024:.0f} KiB"
    assert browser.find_elements(By.CSS_SELECTOR, "svg.chart")
    screenshot("overview")


def test_mirror_overview_shows_a_cache_hit_after_a_second_pull(start_registry, start_berth, tmp_path, browser, screenshot):
    upstream = start_registry("reference", label="upstream")
    image = build_image(tmp_path / "src", "v1", nlayers=2, layer_size=20_000)
    push_to_upstream(image, upstream, "library/app:v1", tmp_path)
    workers = os.environ.get("BERTH_WORKERS")
    berth, _ = start_mirror(start_berth, tmp_path, write_mirror_config(tmp_path, remoteurl=upstream.base_url), workers=workers)
    pull_through(berth, "library/app:v1", tmp_path / "first", tmp_path)
    pull_through(berth, "library/app:v1", tmp_path / "second", tmp_path)

    def counted():
        browser.get(berth.url("/ui/overview"))
        hits = [int(n) for n in _text(browser, "hits").split(", ")]
        misses = [int(n) for n in _text(browser, "misses").split(", ")]
        # The first pull missed the manifest and the config and two layers; the second hit them.
        return hits[0] >= 1 and hits[1] >= 1 and misses[0] >= 1 and misses[1] >= 3
    # With several workers the other workers' figures arrive within a second (their snapshots).
    wait_for(counted, "the overview to show the misses of the first pull and the hits of the second", timeout=15, interval=0.5)
    upstreams = _rows(browser, "upstreams")
    assert len(upstreams) == 1 and "answering" in upstreams[0].text, [u.text for u in upstreams]
    largest = _rows(browser, "largest")
    assert len(largest) == 1 and largest[0].text.startswith("library/app:v1"), [r.text for r in largest]
    assert "UTC" in _rows(browser, "recent")[0].text
    assert _text(browser, "blobs") == str(len(image["blobs"]) + 1)  # the config, the layers and the manifest
    screenshot("mirror-overview")


def test_mirror_overview_lists_the_most_pulled_images_with_their_counts(start_registry, start_berth, tmp_path, browser):
    """Pulls are counted per repository and reference in each worker and summed over the workers."""
    upstream = start_registry("reference", label="upstream")
    for name in ("library/often", "library/once"):
        image = build_image(tmp_path / name.replace("/", "-"), "v1", nlayers=1, layer_size=5_000)
        push_to_upstream(image, upstream, f"{name}:v1", tmp_path)
    workers = os.environ.get("BERTH_WORKERS")
    berth, _ = start_mirror(start_berth, tmp_path, write_mirror_config(tmp_path, remoteurl=upstream.base_url), workers=workers)
    for index in range(3):
        pull_through(berth, "library/often:v1", tmp_path / f"often-{index}", tmp_path)
    pull_through(berth, "library/once:v1", tmp_path / "once", tmp_path)

    def listed():
        browser.get(berth.url("/ui/overview"))
        return [row.text for row in _rows(browser, "most-pulled")] == ["library/often:v1 3", "library/once:v1 1"]
    # With several workers the other workers' counts arrive within a second (their snapshots).
    wait_for(listed, "the overview to list often:v1 (3 pulls) before once:v1 (1 pull)", timeout=15, interval=0.5)


# --- configuration, authentication, caching ------------------------------------------------------------------------
def test_ui_is_behind_htpasswd_and_off_with_ui_enabled_false(start_berth, tmp_path):
    users = tmp_path / "htpasswd"
    subprocess.run(["htpasswd", "-B", "-b", "-c", "-C", "5", str(users), "alice", "wonderland"], check=True, capture_output=True)
    server = Server(tmp_path, registry2_config(tmp_path / "root", f"127.0.0.1:{free_port()}", users))
    try:
        r = server.get("/ui/")
        assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Basic realm=")
        assert server.get("/ui/static/berth.css").status_code == 401
        r = requests.get(server.base + "/ui/", auth=("alice", "wonderland"), timeout=TIMEOUT)
        assert r.status_code == 200 and "Repositories" in r.text
        r = requests.get(server.base + "/ui/", auth=("alice", "wrong"), timeout=TIMEOUT)
        assert r.status_code == 401
    finally:
        server.stop()

    off = start_berth(env={"BERTH_UI_ENABLED": "false"})
    r = requests.get(off.url("/ui/"), timeout=TIMEOUT)
    assert r.status_code == 404 and "errors" in r.json()  # the registry's own answer to a path that is no route


def test_ui_path_moves_the_pages_and_the_bare_prefix_redirects(start_berth):
    berth = start_berth(env={"BERTH_UI_PATH": "/console"})
    r = requests.get(berth.url("/console"), allow_redirects=False, timeout=TIMEOUT)
    assert r.status_code == 301 and r.headers["Location"] == "/console/"
    r = requests.get(berth.url("/console/"), timeout=TIMEOUT)
    assert r.status_code == 200 and 'href="/console/overview"' in r.text
    assert requests.get(berth.url("/ui/"), timeout=TIMEOUT).status_code == 404
    assert requests.get(berth.url("/consolex"), timeout=TIMEOUT).status_code == 404


def test_pages_are_not_cached_and_the_style_sheet_revalidates_by_etag(registry):
    page = requests.get(registry.url("/ui/"), timeout=TIMEOUT)
    assert page.headers["Cache-Control"] == "no-cache, private"
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    css_path = re.search(r'href="(/ui/static/berth\.css\?v=[0-9a-f]+)"', page.text).group(1)
    css = requests.get(registry.url(css_path), timeout=TIMEOUT)
    assert css.status_code == 200 and css.headers["Content-Type"] == "text/css; charset=utf-8"
    assert css.headers["Cache-Control"] == "public, max-age=86400"
    etag = css.headers["ETag"]
    assert css_path.endswith(etag.strip('"'))
    again = requests.get(registry.url("/ui/static/berth.css"), headers={"If-None-Match": etag}, timeout=TIMEOUT)
    assert again.status_code == 304 and again.content == b""
    assert requests.get(registry.url("/ui/static/nothing.css"), timeout=TIMEOUT).status_code == 404
    r = requests.put(registry.url("/ui/"), timeout=TIMEOUT)
    assert r.status_code == 405
    # Counted apart from the registry's routes; with several workers, within a second (their snapshots).
    wait_for(lambda: all(f'route="{route}"' in requests.get(registry.url("/metrics"), timeout=TIMEOUT).text
                         for route in ("ui_page", "ui_asset")), "the UI's routes in /metrics", timeout=15, interval=0.2)


# --- 10,000 repositories -----------------------------------------------------------------------------------------

def _server_seconds(berth, route="ui_page"):
    text = requests.get(berth.url("/metrics"), timeout=TIMEOUT).text
    total = re.search(rf'berth_http_request_duration_seconds_sum{{route="{route}"}} (\S+)', text)
    count = re.search(rf'berth_http_request_duration_seconds_count{{route="{route}"}} (\S+)', text)
    return (float(total.group(1)) if total else 0.0), (int(float(count.group(1))) if count else 0)


def test_ten_thousand_repositories_list_search_and_page(start_berth, tmp_path, browser):
    root = tmp_path / "big-root"
    write_repositories(str(root), 10_000)
    berth = start_berth("--workers", "1", "--log-level", "debug", root=root)
    timings = {}
    for label, path in [("first page (catalog walked)", "/ui/"), ("first page", "/ui/"),
                        ("a page deep in the list", "/ui/?n=50&last=org57/service-05000"),
                        ("search, 100 matches", "/ui/?q=service-099"), ("search, 1 match", "/ui/?q=service-09999"),
                        ("search, 10,000 matches, page of 200 (the most)", "/ui/?q=service&n=1000")]:
        before, _ = _server_seconds(berth)
        started = time.monotonic()
        r = requests.get(berth.url(path), timeout=TIMEOUT)
        client = time.monotonic() - started
        after, _ = _server_seconds(berth)
        assert r.status_code == 200
        timings[label] = (after - before, client)
        print(f"{label}: server {1000 * (after - before):.2f} ms, client {1000 * client:.2f} ms, {len(r.content)} bytes")
    page = requests.get(berth.url("/ui/?q=service-099"), timeout=TIMEOUT).text
    assert "100 of 10000 repositories" in page
    assert page.count('<tr><td><a href="/ui/r/') == 50
    assert "1 of 10000 repositories" in requests.get(berth.url("/ui/?q=service-09999"), timeout=TIMEOUT).text
    browser.get(berth.url("/ui/?n=50&last=org57/service-05000"))
    rows = _rows(browser, "repositories")
    assert len(rows) == 50 and rows[0].find_element(By.TAG_NAME, "a").text == "org57/service-05057"
    assert rows[0].find_elements(By.TAG_NAME, "td")[1].text == "1"


def test_a_manifest_of_100_layers_is_shown_whole(registry):
    image = push_image(registry.base_url, "big/layers", "v1", nlayers=100, layer_size=64)
    timings = []
    for _ in range(5):
        before, _ = _server_seconds(registry)
        r = requests.get(registry.url("/ui/r/big/layers/-/manifest/v1"), timeout=TIMEOUT)
        after, _ = _server_seconds(registry)
        assert r.status_code == 200
        timings.append(after - before)
    print("manifest page of 100 layers, server ms: " + ", ".join(f"{1000 * t:.2f}" for t in timings))
    assert r.text.count('<td class="number">100</td>') == 1 and digest_of(image["layers"][99])[:19] in r.text


def test_hostile_paths_and_queries_are_refused_or_clamped_and_the_server_goes_on(registry):
    """What a client puts in a UI URL is hostile: huge, negative, empty and repeated numbers, names the grammar
    refuses, traversal, a digest of the wrong length, a long search. Each gets a page or a 4xx, never a 5xx or
    a path of the server's, and the registry keeps serving."""
    push_image(registry.base_url, "team/app", "v1")
    clamped = ["/ui/?n=99999999999999999999999", "/ui/?n=-1", "/ui/?n=", "/ui/?n=0", "/ui/?n=1&n=2&n=-3",
               "/ui/?last=" + "z" * 8000, "/ui/?q=" + "%ff" * 2000, "/ui/?q=&q=team&last=&n=NaN"]
    for path in clamped:
        r = requests.get(registry.url(path), timeout=TIMEOUT)
        assert r.status_code == 200, (path[:80], r.status_code)
    refused = ["/ui/r/Team/App", "/ui/r/team/app/-/manifest/sha256:" + "0" * 63, "/ui/r/team/app/-/manifest/..%2f..%2fetc",
               "/ui/r/../../etc/passwd", "/ui/r/team/app/-/nothing/v1", "/ui/static/../../README.md", "/ui/static/",
               "/ui/r/team/app/-/delete/" + "v" * 200, "/ui/r/" + "a/" * 300 + "b"]
    for path in refused:
        r = requests.get(registry.url(path), timeout=TIMEOUT)
        assert 400 <= r.status_code < 500, (path[:80], r.status_code)
        assert "/tmp" not in r.text and str(registry.root) not in r.text, path[:80]
    assert requests.get(registry.url("/ui/r/team/app"), timeout=TIMEOUT).status_code == 200
    assert requests.get(f"{registry.base_url}/v2/team/app/tags/list", timeout=TIMEOUT).json()["tags"] == ["v1"]
