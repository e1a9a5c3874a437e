"""A push service stand-in (RFC 8030) on loopback, over TLS with a certificate made here: it
checks each push's VAPID token (ES256 with our public key, `aud` its own origin, `exp` within
24 h), decrypts the body with the subscription's private key (RFC 8291, aes128gcm) and keeps
the JSON. It answers 201 unless told otherwise, and can be stopped and started on its port.

The worker trusts its certificate through PUSH_TLS_CA_FILE, and its address through
PUSH_ALLOWED_HOSTS ("127.0.0.1:<port>"), as a deployment never would."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import os
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import http_ece
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID

from tests.e2e.servers import free_port


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def vapid_keys() -> tuple[str, str]:
    """A VAPID pair as the settings hold it: (public point, private scalar), base64url."""
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64url(public), b64url(key.private_numbers().private_value.to_bytes(32, "big"))


def write_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "push stand-in")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "push-cert.pem", directory / "push-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class Device:
    """One browser's side of a subscription: the keys it decrypts with."""

    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes

    @property
    def p256dh(self) -> str:
        return b64url(
            self.private_key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )

    @property
    def auth_b64(self) -> str:
        return b64url(self.auth)


@dataclass
class Push:
    device: int
    headers: dict[str, str]
    payload: dict


@dataclass
class PushService:
    vapid_public_key: str
    cert_path: Path
    key_path: Path
    port: int = field(default_factory=free_port)
    pushes: list[Push] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)  # why a request was not a valid push
    # Answers to give, in order, before the default 201: (status, headers); status 0 keeps the
    # push and hangs up without an answer.
    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    # From the `hold_from`th push on, each is recorded, then its answer waits for `released`
    # (stop() sets it).
    hold_from: int | None = None
    released: threading.Event = field(default_factory=threading.Event)
    devices: list[Device] = field(default_factory=list)
    requests: int = 0
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def origin(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def new_device(self) -> Device:
        device = Device(
            endpoint=f"{self.origin}/push/{len(self.devices)}",
            private_key=ec.generate_private_key(ec.SECP256R1()),
            auth=os.urandom(16),
        )
        self.devices.append(device)
        return device

    def start(self) -> None:
        handler = type("Handler", (_Handler,), {"service": self})
        server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, self.key_path)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self.released.set()
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def payloads_for(self, device: Device) -> list[dict]:
        index = self.devices.index(device)
        return [push.payload for push in self.pushes if push.device == index]

    def wait_for(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.pushes) < count:
            assert time.monotonic() < deadline, f"{len(self.pushes)} pushes, not {count}"
            time.sleep(0.02)

    # What a real push service checks before it accepts a push.
    def check(self, path: str, headers: dict[str, str], body: bytes) -> Push:
        index = int(path.rsplit("/", 1)[1])
        device = self.devices[index]
        scheme, _, params = headers.get("authorization", "").partition(" ")
        assert scheme == "vapid", "Authorization is not vapid t=..., k=..."
        fields = dict(part.strip().split("=", 1) for part in params.split(","))
        assert fields["k"] == self.vapid_public_key, "k is not our VAPID public key"
        head, claims_b64, signature = fields["t"].split(".")
        assert json.loads(unb64url(head)) == {"typ": "JWT", "alg": "ES256"}
        raw = unb64url(signature)
        public = ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), unb64url(self.vapid_public_key)
        )
        der = encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:]))
        try:
            public.verify(der, f"{head}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature as error:
            raise AssertionError("bad VAPID signature") from error
        claims = json.loads(unb64url(claims_b64))
        assert claims["aud"] == self.origin, f"aud {claims['aud']}"
        assert time.time() < claims["exp"] <= time.time() + 86400, "exp not within 24 h"
        assert claims["sub"].startswith(("mailto:", "https:"))
        assert headers.get("content-encoding") == "aes128gcm"
        assert int(headers["ttl"]) >= 0
        plain = http_ece.decrypt(
            body, private_key=device.private_key, auth_secret=device.auth, version="aes128gcm"
        )
        return Push(device=index, headers=headers, payload=json.loads(plain))


class _Handler(BaseHTTPRequestHandler):
    service: PushService

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        service = self.service
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        headers = {name.lower(): value for name, value in self.headers.items()}
        with service._lock:
            service.requests += 1
            answer = service.answers.pop(0) if service.answers else (201, {})
        try:
            push = service.check(self.path, headers, body)
        except Exception as error:  # anything a push service would refuse
            service.rejected.append(repr(error))
            self._answer(400, {})
            return
        if answer[0] in (0, 200, 201, 202):
            service.pushes.append(push)
            if service.hold_from is not None and len(service.pushes) >= service.hold_from:
                service.released.wait()
        if answer[0] == 0:  # hang up: the push arrived, its answer never leaves
            self.close_connection = True
            self.connection.close()
            return
        self._answer(*answer)

    def finish(self) -> None:
        try:
            super().finish()
        except (OSError, ValueError):
            pass  # after a hang-up

    def _answer(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()
