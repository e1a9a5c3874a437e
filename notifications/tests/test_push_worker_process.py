"""Web Push with committed transactions: the socket registry decides at commit, and a real
`manage.py push_worker` process killed mid-batch sends no push twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from channels.db import database_sync_to_async
from django.conf import settings as django_settings
from django.db import connection

from notifications.models import EventType, Notification, PushDelivery
from notifications.services import notify, push_subscription_save
from notifications.tests.conftest import anotify
from tests.e2e.servers import BASE_DIR, database_env
from tests.helpers import wait_until

pytestmark = [pytest.mark.django_db(transaction=True)]

asubscribe = database_sync_to_async(push_subscription_save)


async def test_nothing_is_queued_for_someone_with_a_socket_open_at_commit(
    push_service,
    connect,
    bob,
):
    device = push_service.new_device()
    await asubscribe(user=bob, endpoint=device.endpoint, p256dh=device.p256dh, auth=device.auth_b64)
    socket = await connect(bob)
    await socket.receive_json_from()  # the welcome frame

    await anotify(recipient_id=bob.pk, event_type=EventType.FRIEND_REQUEST, data={})
    assert (await socket.receive_json_from())["type"] == "friend_request"
    assert not await PushDelivery.objects.aexists()

    await socket.disconnect()
    await anotify(recipient_id=bob.pk, event_type=EventType.FRIEND_REQUEST, data={})
    assert await PushDelivery.objects.acount() == 1


def start_worker(service, log_path) -> subprocess.Popen:
    env = {
        **os.environ,
        **database_env(connection.settings_dict),
        "SECRET_KEY": "push-worker-tests",
        "VAPID_PUBLIC_KEY": django_settings.VAPID_PUBLIC_KEY,
        "VAPID_PRIVATE_KEY": django_settings.VAPID_PRIVATE_KEY,
        "VAPID_SUBJECT": django_settings.VAPID_SUBJECT,
        "PUSH_ALLOWED_HOSTS": ",".join(django_settings.PUSH_ALLOWED_HOSTS),
        "PUSH_TLS_CA_FILE": django_settings.PUSH_TLS_CA_FILE,
        "PUSH_POLL_SECONDS": "0.05",
        "PUSH_SEND_TIMEOUT_SECONDS": "1",
    }
    log = open(log_path, "ab")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "push_worker"],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    return process


def test_a_worker_killed_mid_batch_then_a_new_one_send_no_push_twice(
    push_service,
    alice,
    bob,
    charlie,
    tmp_path,
):
    devices = [push_service.new_device() for _ in range(4)]
    for device, user in zip(devices, [bob, bob, charlie, charlie], strict=True):
        push_subscription_save(
            user=user, endpoint=device.endpoint, p256dh=device.p256dh, auth=device.auth_b64
        )
    for _ in range(3):
        for user in (bob, charlie):
            notify(recipient_id=user.pk, event_type=EventType.FRIEND_REQUEST, data={})
    assert PushDelivery.objects.count() == 12

    push_service.hold_from = 5  # the 5th push arrives; its answer does not leave
    first = start_worker(push_service, tmp_path / "worker.log")
    try:
        push_service.wait_for(5, timeout=30)
        first.send_signal(signal.SIGKILL)  # kill -9, mid-POST, mid-batch
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    push_service.hold_from = None
    # The push on the wire when it died is still claimed: it had arrived.
    [on_the_wire] = PushDelivery.objects.filter(sending_since__isnull=False)
    [held] = push_service.pushes[4:]
    assert (on_the_wire.subscription.endpoint, on_the_wire.event_id) == (
        devices[held.device].endpoint,
        held.payload["id"],
    )
    push_service.released.set()

    second = start_worker(push_service, tmp_path / "worker.log")
    try:
        wait_until(
            lambda: not PushDelivery.objects.exists(), 30, "deliveries left after the restart"
        )
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(10)
    log = (tmp_path / "worker.log").read_text()
    assert "Push worker stopped." in log, log

    received = [(push.device, push.payload["id"]) for push in push_service.pushes]
    assert len(received) == len(set(received)), "a subscription got a push twice"
    expected = {
        (index, event_id)
        for index, user in enumerate([bob, bob, charlie, charlie])
        for event_id in Notification.objects.filter(recipient=user).values_list("id", flat=True)
    }
    # Nothing lost either: the push on the wire at the kill had arrived before it.
    assert set(received) == expected, log


def test_without_keys_the_worker_says_push_is_off(tmp_path, settings):
    env = {**os.environ, "SECRET_KEY": "x", "VAPID_PUBLIC_KEY": "", "VAPID_PRIVATE_KEY": ""}
    result = subprocess.run(
        [sys.executable, "manage.py", "push_worker"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert "Web Push is off" in result.stdout
