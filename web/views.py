"""The demo page: one static shell; everything else happens in the browser over the API."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe


@require_safe
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "web/index.html")


@require_safe
def push_service_worker(request: HttpRequest) -> HttpResponse:
    """The demo's service worker, from the site's root: a worker's scope is at most the folder
    of its script, and it must cover the demo page at "/"."""
    response = render(request, "web/push-sw.js", content_type="text/javascript; charset=utf-8")
    # Browsers look for a new worker on every registration; no cache keeps them from a stale one.
    response["Cache-Control"] = "no-cache"
    return response
