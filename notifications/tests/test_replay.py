"""Resume with last_event_id: replay, the 500 cap, and no gap or duplicate at the seam."""

from __future__ import annotations

import asyncio
import random

import pytest
from channels.db import database_sync_to_async
from rest_framework_simplejwt.tokens import AccessToken

from notifications.consumers import REPLAY_LIMIT
from notifications.models import EventType, Notification
from notifications.services import event_frame
from notifications.tests.conftest import anotify
from tests.helpers import store_events

pytestmark = [pytest.mark.django_db(transaction=True)]


def store_friend_requests(user, count: int) -> list[Notification]:
    return store_events(user, count, EventType.FRIEND_REQUEST)


def resume_query(user, last_event_id: object) -> str:
    return f"token={AccessToken.for_user(user)}&last_event_id={last_event_id}"


async def read_until_replay_complete(communicator) -> tuple[dict, list[dict], dict]:
    hello = await communicator.receive_json_from(timeout=5)
    assert hello["type"] == "connection_established"
    frames = []
    while True:
        frame = await communicator.receive_json_from(timeout=5)
        if frame["type"] == "replay_complete":
            return hello, frames, frame
        frames.append(frame)


async def test_resuming_replays_every_later_event_framed_as_live_then_replay_complete(connect, bob):
    events = await database_sync_to_async(store_friend_requests)(bob, 5)
    communicator = await connect(query=resume_query(bob, events[1].id))
    hello, frames, done = await read_until_replay_complete(communicator)
    assert hello["last_event_id"] == events[-1].id
    assert frames == [await database_sync_to_async(event_frame)(e) for e in events[2:]]
    assert done == {"type": "replay_complete", "count": 3}
    await communicator.disconnect()


async def test_resuming_from_zero_replays_everything_and_only_the_users_own(connect, alice, bob):
    await database_sync_to_async(store_friend_requests)(alice, 2)
    events = await database_sync_to_async(store_friend_requests)(bob, 2)
    communicator = await connect(query=resume_query(bob, 0))
    _, frames, done = await read_until_replay_complete(communicator)
    assert [f["id"] for f in frames] == [e.id for e in events]
    assert done == {"type": "replay_complete", "count": 2}
    await communicator.disconnect()


async def test_resuming_when_up_to_date_replays_nothing(connect, bob):
    events = await database_sync_to_async(store_friend_requests)(bob, 2)
    communicator = await connect(query=resume_query(bob, events[-1].id))
    _, frames, done = await read_until_replay_complete(communicator)
    assert (frames, done) == ([], {"type": "replay_complete", "count": 0})
    await communicator.disconnect()


async def test_more_than_500_missed_events_are_not_replayed_and_the_client_reloads(connect, bob):
    events = await database_sync_to_async(store_friend_requests)(bob, REPLAY_LIMIT + 2)
    communicator = await connect(query=resume_query(bob, events[0].id))
    _, frames, done = await read_until_replay_complete(communicator)
    assert frames == []
    assert done == {"type": "replay_complete", "count": 0, "recovered": False}
    # Live events go on from the newest stored one.
    live = await anotify(recipient_id=bob.pk, event_type="friend_request", data={})
    assert (await communicator.receive_json_from())["id"] == live.id
    await communicator.disconnect()


async def test_exactly_500_missed_events_are_all_replayed(connect, bob):
    events = await database_sync_to_async(store_friend_requests)(bob, REPLAY_LIMIT + 1)
    communicator = await connect(query=resume_query(bob, events[0].id))
    _, frames, done = await read_until_replay_complete(communicator)
    assert [f["id"] for f in frames] == [e.id for e in events[1:]]
    assert done == {"type": "replay_complete", "count": REPLAY_LIMIT}
    await communicator.disconnect()


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "", "99999999999999999999999"])
async def test_an_unusable_last_event_id_tells_the_client_to_reload(connect, bob, value):
    await database_sync_to_async(store_friend_requests)(bob, 1)
    communicator = await connect(query=resume_query(bob, value))
    _, frames, done = await read_until_replay_complete(communicator)
    assert (frames, done) == ([], {"type": "replay_complete", "count": 0, "recovered": False})
    await communicator.disconnect()


async def test_events_committed_during_many_reconnects_arrive_exactly_once_in_order(connect, bob):
    """The seam: events keep committing while the client drops and resumes, again and again."""
    total = 200
    rng = random.Random(7)
    received: list[int] = []

    async def produce() -> None:
        for n in range(total):
            await anotify(recipient_id=bob.pk, event_type=EventType.FRIEND_REQUEST, data={"n": n})
            await asyncio.sleep(rng.choice((0, 0, 0.002)))

    def take(frame: dict) -> None:
        if frame["type"] == "friend_request":
            received.append(frame["id"])

    producer = asyncio.create_task(produce())
    reconnects = 0
    while not producer.done() or reconnects == 0:
        resume = received[-1] if received else 0
        communicator = await connect(query=resume_query(bob, resume))
        _, frames, _ = await read_until_replay_complete(communicator)
        for frame in frames:
            take(frame)
        # Stay a random short while on the live stream, then drop.
        deadline = asyncio.get_running_loop().time() + rng.uniform(0, 0.03)
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            if await communicator.receive_nothing(timeout=left, interval=0.001):
                break
            take(await communicator.receive_json_from())
        await communicator.disconnect()
        reconnects += 1
    await producer

    communicator = await connect(query=resume_query(bob, received[-1] if received else 0))
    _, frames, _ = await read_until_replay_complete(communicator)
    for frame in frames:
        take(frame)
    await communicator.disconnect()

    stored = [n.id async for n in Notification.objects.filter(recipient=bob).order_by("id")]
    assert len(stored) == total
    assert reconnects > 10
    assert received == stored


async def test_resuming_replays_events_of_mixed_types_in_id_order_framed_as_live(
    connect, alice, bob
):
    kinds = [
        EventType.FRIEND_REQUEST_DECLINED,
        EventType.MESSAGE_SENT,
        EventType.NEW_MESSAGE,
        EventType.FRIEND_REQUEST_CANCELLED,
        EventType.MESSAGE_SENT,
        EventType.FRIEND_REMOVED,
    ]
    events = []
    for n, kind in enumerate(kinds):
        events.append(await anotify(recipient_id=bob.pk, event_type=kind, data={"n": n}))
        await anotify(recipient_id=alice.pk, event_type=kind, data={"n": n})  # not bob's
    communicator = await connect(query=resume_query(bob, 0))
    _, frames, done = await read_until_replay_complete(communicator)
    assert frames == [await database_sync_to_async(event_frame)(e) for e in events]
    assert [f["type"] for f in frames] == [k.value for k in kinds]
    assert [f["id"] for f in frames] == sorted(f["id"] for f in frames)
    assert done == {"type": "replay_complete", "count": len(kinds)}
    await communicator.disconnect()
