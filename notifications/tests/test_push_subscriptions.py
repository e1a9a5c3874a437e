"""Web Push subscriptions over REST: the key endpoint, subscribe and unsubscribe, and the
endpoint checks that keep our server from POSTing where a client points it."""

from __future__ import annotations

import base64
import io

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.core.management import call_command
from django.test import Client

from notifications.models import PushSubscription
from tests.helpers import assert_error
from tests.pushservice import b64url

pytestmark = pytest.mark.django_db

KEY = "/api/notifications/vapid-public-key/"
SUBSCRIBE = "/api/notifications/subscribe/"
UNSUBSCRIBE = "/api/notifications/unsubscribe/"
ENDPOINT = "https://fcm.googleapis.com/fcm/send/abc123"


def browser_keys() -> tuple[bytes, bytes]:
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    )
    return point, bytes(range(16))


def b64(raw: bytes) -> str:
    """What the web app sends: btoa, standard base64 with padding."""
    return base64.b64encode(raw).decode()


def subscription(endpoint: str = ENDPOINT, encode=b64) -> dict:
    p256dh, auth = browser_keys()
    return {"endpoint": endpoint, "keys": {"p256dh": encode(p256dh), "auth": encode(auth)}}


@pytest.fixture
def push_on(settings):
    settings.VAPID_PUBLIC_KEY = "BPublicKeyForTests"
    settings.VAPID_PRIVATE_KEY = "private-key-for-tests"
    settings.WEB_PUSH_ENABLED = True


def test_the_public_key_is_served_when_push_is_set_up(push_on, client_for, alice):
    response = client_for(alice).get(KEY)
    assert response.status_code == 200
    assert response.json() == {"vapid_public_key": "BPublicKeyForTests"}


def test_without_keys_the_key_endpoint_says_push_is_not_set_up(settings, client_for, alice):
    settings.WEB_PUSH_ENABLED = False
    assert_error(client_for(alice).get(KEY), 503, "push_not_configured")


@pytest.mark.parametrize("path", [KEY, SUBSCRIBE, UNSUBSCRIBE])
def test_push_endpoints_need_authentication(anon, path):
    response = anon.get(path) if path == KEY else anon.post(path, {}, format="json")
    assert_error(response, 401, "not_authenticated")


@pytest.mark.parametrize("encode", [b64, b64url])
def test_subscribing_stores_the_keys_base64url_whichever_encoding_came(client_for, alice, encode):
    p256dh, auth = browser_keys()
    body = {"endpoint": ENDPOINT, "keys": {"p256dh": encode(p256dh), "auth": encode(auth)}}
    response = client_for(alice).post(SUBSCRIBE, body, format="json")
    assert response.status_code == 201
    assert response.json() == {"message": "Subscribed to push notifications."}
    stored = PushSubscription.objects.get()
    assert (stored.user, stored.endpoint) == (alice, ENDPOINT)
    assert (stored.p256dh, stored.auth) == (b64url(p256dh), b64url(auth))


def test_the_same_endpoint_again_replaces_the_subscription_even_from_another_user(
    client_for, alice, bob
):
    assert client_for(alice).post(SUBSCRIBE, subscription(), format="json").status_code == 201
    again = subscription()
    assert client_for(bob).post(SUBSCRIBE, again, format="json").status_code == 201
    stored = PushSubscription.objects.get()
    assert stored.user == bob
    assert stored.p256dh == b64url(base64.b64decode(again["keys"]["p256dh"]))


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://fcm.googleapis.com/fcm/send/x",  # not https
        "ftp://fcm.googleapis.com/x",
        "https://localhost/push",
        "https://push.localhost/x",
        "https://127.0.0.1/x",
        "https://127.9.9.9:8443/x",
        "https://[::1]/x",
        "https://[::ffff:127.0.0.1]/x",
        "https://10.0.0.5/x",
        "https://172.16.1.1/x",
        "https://192.168.1.1/x",
        "https://169.254.169.254/latest/meta-data/",  # the cloud metadata service
        "https://100.64.0.1/x",
        "https://0.0.0.0/x",
        "https://[fe80::1]/x",
        "https://user:pw@fcm.googleapis.com/x",
        "https://fcm.googleapis.com:99999/x",
        "https:///x",
        "not a url",
    ],
)
def test_an_endpoint_that_is_not_https_on_a_public_host_is_refused(client_for, alice, endpoint):
    response = client_for(alice).post(SUBSCRIBE, subscription(endpoint), format="json")
    error = assert_error(response, 400, "validation_error")
    assert list(error["errors"]) == ["endpoint"]
    assert not PushSubscription.objects.exists()


def test_a_listed_host_is_let_through_for_a_local_stand_in(settings, client_for, alice):
    settings.PUSH_ALLOWED_HOSTS = ["127.0.0.1:8443"]
    body = subscription("https://127.0.0.1:8443/push/1")
    assert client_for(alice).post(SUBSCRIBE, body, format="json").status_code == 201
    other_port = subscription("https://127.0.0.1:9443/push/1")
    response = client_for(alice).post(SUBSCRIBE, other_port, format="json")
    assert_error(response, 400, "validation_error")


@pytest.mark.parametrize(
    ("p256dh", "auth", "bad"),
    [
        (b"\x04" + b"\x01" * 64, bytes(16), "p256dh"),  # 65 bytes, but not on the curve
        (b"\x02" + b"\x01" * 32, bytes(16), "p256dh"),  # compressed
        (None, bytes(15), "auth"),
        (None, bytes(17), "auth"),
    ],
    ids=["off-the-curve", "compressed", "short-secret", "long-secret"],
)
def test_keys_that_are_not_a_p256_point_and_a_16_byte_secret_are_refused(
    client_for, alice, p256dh, auth, bad
):
    good_point, _ = browser_keys()
    keys = {"p256dh": b64(p256dh or good_point), "auth": b64(auth)}
    response = client_for(alice).post(SUBSCRIBE, {"endpoint": ENDPOINT, "keys": keys}, "json")
    error = assert_error(response, 400, "validation_error")
    assert list(error["errors"]) == [f"keys.{bad}"], error


@pytest.mark.parametrize(
    "body",
    [{}, {"endpoint": ENDPOINT}, {"endpoint": ENDPOINT, "keys": "x"}, {"endpoint": 5, "keys": {}}],
)
def test_a_malformed_subscription_is_a_validation_error(client_for, alice, body):
    assert_error(client_for(alice).post(SUBSCRIBE, body, format="json"), 400, "validation_error")


def test_unsubscribing_forgets_only_your_own_subscription(client_for, alice, bob):
    client_for(alice).post(SUBSCRIBE, subscription(), format="json")
    response = client_for(bob).post(UNSUBSCRIBE, {"endpoint": ENDPOINT}, format="json")
    assert_error(response, 404, "subscription_not_found")
    response = client_for(alice).post(UNSUBSCRIBE, {"endpoint": ENDPOINT}, format="json")
    assert response.status_code == 200
    assert response.json() == {"message": "Unsubscribed from push notifications."}
    assert not PushSubscription.objects.exists()
    again = client_for(alice).post(UNSUBSCRIBE, {"endpoint": ENDPOINT}, format="json")
    assert_error(again, 404, "subscription_not_found")


def test_deleting_a_user_deletes_their_subscriptions(client_for, alice):
    client_for(alice).post(SUBSCRIBE, subscription(), format="json")
    alice.delete()
    assert not PushSubscription.objects.exists()


def test_the_admin_lists_subscriptions_by_push_service(admin_user, client_for, alice):
    client_for(alice).post(SUBSCRIBE, subscription(), format="json")
    client = Client()
    client.force_login(admin_user)
    page = client.get("/admin/notifications/pushsubscription/")
    assert page.status_code == 200
    assert b"fcm.googleapis.com" in page.content and b"alice" in page.content


def test_the_generated_vapid_keys_are_a_p256_pair():
    out = io.StringIO()
    call_command("generate_vapid_keys", stdout=out)
    values = dict(line.split("  #")[0].split("=", 1) for line in out.getvalue().splitlines())
    public = base64.urlsafe_b64decode(values["VAPID_PUBLIC_KEY"] + "==")
    private = int.from_bytes(base64.urlsafe_b64decode(values["VAPID_PRIVATE_KEY"] + "=="), "big")
    derived = ec.derive_private_key(private, ec.SECP256R1()).public_key()
    assert derived.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint) == public
    assert values["VAPID_SUBJECT"].startswith("mailto:")
