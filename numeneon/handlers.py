"""HTTP under ASGI with one thread hop per request.

Django's ASGIHandler runs the middleware chain in async mode. Every middleware built on
MiddlewareMixin (sessions, CSRF, auth, messages, security...) then hops from the event loop to
a thread and back for its process_request and again for its process_response, a sync-only
middleware adapts the rest of the chain back to async, the sync DRF view hops once more, and
each request starts a thread of its own (ThreadSensitiveContext): dozens of hops and new
threads a request, each a cost on the one event loop that serves every socket.

This handler keeps Django's own pieces -- reading the body and sending the response on the
event loop, building the request, the middleware chain, the signals -- and runs everything
between the two, in the order Django's WSGI handler runs it, in one call on the thread pool.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.urls import set_script_prefix


class OneHopASGIHandler(ASGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        # The chain in sync mode: middleware calls middleware directly, in one thread.
        super().load_middleware(is_async=False)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        # No ThreadSensitiveContext: nothing per request runs thread-sensitive any more, and the
        # pool's threads (each with its own database connection) are reused.
        await self.handle(scope, receive, send)

    async def handle(self, scope, receive, send) -> None:
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        try:
            response = await sync_to_async(self._respond, thread_sensitive=False)(scope, body_file)
            await self.send_response(response, send)
            if response.streaming:
                # After the last chunk (files close here). Its request_finished runs on a pool
                # thread that may not be the request's; that thread's database connection, if
                # the view used one, goes back at its next request_started (CONN_MAX_AGE=0).
                # The streaming responses here are WhiteNoise's static files, which use none.
                await sync_to_async(response.close, thread_sensitive=False)()
        finally:
            body_file.close()

    def _respond(self, scope, body_file):
        """Signals, request, middleware and view: what Django's WSGIHandler.__call__ does."""
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        response = error_response if request is None else self.get_response(request)
        response._handler_class = self.__class__
        if not response.streaming:
            # request_finished: the database connection goes back before the bytes go out.
            response.close()
        return response
