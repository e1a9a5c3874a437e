"""Every answer carries the Content-Security-Policy: the demo page, the API, the docs."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

POLICY = {
    "default-src 'self'",
    "img-src 'self' https:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
}


def directives(response) -> set[str]:
    return {part.strip() for part in response["Content-Security-Policy"].split(";")}


@pytest.mark.parametrize("path", ["/", "/api/auth/me/", "/api/nowhere/", "/healthz"])
def test_the_demo_page_and_the_api_send_the_policy(client, path):
    assert directives(client.get(path)) == POLICY


def test_the_api_docs_run_their_own_script_file_under_the_policy(client):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    assert directives(page) == POLICY | {"style-src 'self' 'unsafe-inline'"}
    html = page.content.decode()
    assert "<script>" not in html  # no inline script: the start-up script is a file
    script = client.get("/api/docs/", {"script": ""})
    assert script.status_code == 200 and b"SwaggerUIBundle" in script.content
