"""Content discovery: tags and catalog, sorted, walked page by page through Link headers."""
import json
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from regutil import assert_error, digest_of

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = b'{"architecture":"amd64","os":"linux"}'


def _manifest():
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                  "digest": digest_of(CONFIG), "size": len(CONFIG)}, "layers": []}).encode()


def _push(base, name, tags):
    session = requests.Session()
    r = session.post(f"{base}/v2/{name}/blobs/uploads/?digest={digest_of(CONFIG)}", data=CONFIG)
    assert r.status_code == 201, r.text
    for tag in tags:
        r = session.put(f"{base}/v2/{name}/manifests/{tag}", data=_manifest(), headers={"Content-Type": OCI_MANIFEST})
        assert r.status_code == 201, r.text


def _walk(base, first_url, key):
    items, url, pages = [], first_url, 0
    while url:
        r = requests.get(base + url if url.startswith("/") else url)
        assert r.status_code == 200, r.text
        items += r.json()[key]
        pages += 1
        link = r.headers.get("Link")
        url = re.match(r'<([^>]+)>;\s*rel="next"', link).group(1) if link else None
    return items, pages


@pytest.mark.berth_only  # Distribution 2.8 lists tags in directory order, not lexically as the spec says
def test_250_tags_walked_page_by_page_equal_the_sorted_list(registry):
    base = registry.base_url
    tags = [f"t{i:03d}-{'x' * (i % 3)}" for i in range(250)] + ["Latest", "_underscore", "v1.0"]
    _push(base, "disco/app", tags)
    full = requests.get(f"{base}/v2/disco/app/tags/list").json()
    assert full["name"] == "disco/app"
    assert full["tags"] == sorted(tags)
    walked, pages = _walk(base, "/v2/disco/app/tags/list?n=40", "tags")
    assert walked == sorted(tags)
    assert pages == -(-len(tags) // 40)
    r = requests.get(f"{base}/v2/disco/app/tags/list?n=10&last=t100-x")
    assert r.json()["tags"] == sorted(tags)[sorted(tags).index("t100-x") + 1:][:10]


@pytest.mark.berth_only  # uses single-POST uploads, which Distribution 2.8 answers with 202
def test_120_repositories_walked_page_by_page_equal_the_sorted_catalog(registry):
    base = registry.base_url
    names = [f"team{i % 7}/app-{i:03d}" for i in range(120)] + ["a", "a/b", "a-b", "a.b/c"]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda name: _push(base, name, ["v1"]), names))
    walked, pages = _walk(base, "/v2/_catalog?n=25", "repositories")
    assert walked == sorted(names)
    assert pages == -(-len(names) // 25)
    assert requests.get(f"{base}/v2/_catalog").json()["repositories"] == sorted(names)


def test_unknown_repository_tags_is_404_name_unknown(registry):
    r = requests.get(f"{registry.base_url}/v2/nobody/here/tags/list")
    assert_error(r, 404, "NAME_UNKNOWN")
