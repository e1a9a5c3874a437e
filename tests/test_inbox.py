"""numeneon.inbox.Inbox: the asyncio.Queue stand-in of Daphne's application queue and of the
pub/sub channel layer's channels."""

from __future__ import annotations

import asyncio

from numeneon.inbox import Inbox


async def test_messages_come_out_in_order():
    inbox = Inbox()
    for n in range(3):
        inbox.put_nowait(n)
    assert inbox.qsize() == 3
    assert [await inbox.get() for _ in range(3)] == [0, 1, 2]
    assert inbox.empty()


async def test_a_reader_waits_for_the_next_message():
    inbox = Inbox()
    reader = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    assert not reader.done()
    inbox.put_nowait("hello")
    assert await reader == "hello"


async def test_a_cancelled_reader_leaves_the_message_to_the_next():
    inbox = Inbox()
    first = asyncio.ensure_future(inbox.get())
    second = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    inbox.put_nowait("only")
    first.cancel()  # woken, then cancelled before it ran
    assert await second == "only"
    assert first.cancelled()


async def test_readers_are_served_in_turn():
    inbox = Inbox()
    readers = [asyncio.ensure_future(inbox.get()) for _ in range(2)]
    await asyncio.sleep(0)
    inbox.put_nowait(1)
    inbox.put_nowait(2)
    assert await asyncio.gather(*readers) == [1, 2]
