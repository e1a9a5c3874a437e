"""Database work from async code, on the thread pool."""

from __future__ import annotations

import functools

from channels.db import database_sync_to_async
from django.db import close_old_connections


def database_call(func):
    """`database_sync_to_async`, but on the executor's thread pool instead of the one thread
    that thread-sensitive calls share: with that single thread, every socket's database work
    in a process waited in one line, which capped connects near 110 a second. The work done
    here needs no thread affinity: each call opens and returns its own connection.

    It returns it from inside the call. asgiref keeps Django's connections in a context
    variable and runs `func` in a copy of the caller's context, so the close that
    `database_sync_to_async` does after the call sees none of them; the connection would
    stay checked out of the pool until the same consumer's next database call happened to
    land on the same thread (a socket that made only one call leaked it for good)."""

    @functools.wraps(func)
    def call_then_close(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        finally:
            close_old_connections()

    return database_sync_to_async(call_then_close, thread_sensitive=False)
