"""A small stand-in for asyncio.Queue where every open socket holds one.

Daphne gives each application instance an asyncio.Queue for its incoming messages, and
channels-redis's pub/sub layer one per channel name (one per consumer). An idle asyncio.Queue
holds three empty deques and an Event with a fourth: about 3.1 KB, twice per socket. Both
only call put_nowait() and await get() (unbounded, one reader at a time); this does that, and
holds nothing until a message or a reader is waiting.
"""

from __future__ import annotations

import asyncio
import collections


class Inbox:
    __slots__ = ("_items", "_waiters")

    def __init__(self) -> None:
        self._items: collections.deque | None = None
        self._waiters: list[asyncio.Future] | None = None

    def qsize(self) -> int:
        return len(self._items) if self._items else 0

    def empty(self) -> bool:
        return not self._items

    def put_nowait(self, item) -> None:
        if self._items is None:
            self._items = collections.deque()
        self._items.append(item)
        self._wake_next()

    async def get(self):
        while not self._items:
            waiter = asyncio.get_running_loop().create_future()
            if self._waiters is None:
                self._waiters = []
            self._waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                # As asyncio.Queue: a reader cancelled after it was woken passes the
                # wake-up on, so that a queued message is not left behind.
                self._discard(waiter)
                if self._items and not waiter.cancelled():
                    self._wake_next()
                raise
        item = self._items.popleft()
        if not self._items:
            self._items = None
        return item

    def _wake_next(self) -> None:
        waiters = self._waiters
        while waiters:
            waiter = waiters.pop(0)
            if not waiter.done():
                waiter.set_result(None)
                break
        if not waiters:
            self._waiters = None

    def _discard(self, waiter: asyncio.Future) -> None:
        waiters = self._waiters
        if waiters and waiter in waiters:
            waiters.remove(waiter)
        if not waiters:
            self._waiters = None
