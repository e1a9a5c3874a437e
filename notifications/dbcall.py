"""Database work from async code, on the thread pool."""

from __future__ import annotations

from channels.db import database_sync_to_async


def database_call(func):
    """`database_sync_to_async`, but on the executor's thread pool instead of the one thread
    that thread-sensitive calls share: with that single thread, every socket's database work
    in a process waited in one line, which capped connects near 110 a second. The work done
    here needs no thread affinity: each call opens and returns its own connection."""
    return database_sync_to_async(func, thread_sensitive=False)
