"""Every active device in memory for the hot path: its facts, its type, and its credential check (pure, no I/O).

A device's token is random, shown once, and stored only as HMAC-SHA256(instance key, token). `verify` compares in
constant time and then keeps the verified token in place of the digest (same size; the digest is recomputed from
it when another token is tried), so a device's next messages cost one comparison instead of one HMAC. Equal
strings and place chains are shared between devices: about 270 bytes per device (`bench/bench_devices.py`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sys
import threading
from collections.abc import Iterable, Mapping

from chengyun.devices.catalogue import DeviceType
from chengyun.devices.model import DeviceFacts

DIGEST_BYTES = 32
_VERIFIED = b"\x01"  # prefix of a remembered token (its digest is recomputed only for a different token)
MAX_TOKEN_BYTES = 128


def credential_key(secret: str) -> bytes:
    """The key of device credential hashes, derived from the instance secret (changing it voids every token)."""
    return hashlib.sha256(f"chengyun:device-token:{secret}".encode()).digest()


def new_token() -> str:
    """A fresh device token: 32 URL-safe characters (192 random bits)."""
    return secrets.token_urlsafe(24)


def token_hash(key: bytes, token: str) -> str:
    """What is stored of a token: its HMAC-SHA256 under the instance key, hex."""
    return hmac.digest(key, token.encode(), "sha256").hex()


class DeviceDirectory:
    """Active devices by id: `facts`, `type_of`, `verify`; filled and refreshed by the device service."""

    def __init__(self, key: bytes, types: Mapping[str, DeviceType]) -> None:
        self._key = key
        self._types = dict(types)
        self._facts: dict[str, DeviceFacts] = {}
        self._secrets: dict[str, bytes] = {}  # the digest (32 bytes), or the last verified token marked
        self._places: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._facts)

    def __contains__(self, device_id: object) -> bool:
        return device_id in self._facts

    def ids(self) -> Iterable[str]:
        """Every device id held (a snapshot list)."""
        return list(self._facts)

    def facts(self, device_id: str) -> DeviceFacts | None:
        """The shared facts of an active device, or None for an unknown or inactive one."""
        return self._facts.get(device_id)

    def type_of(self, device_id: str) -> DeviceType | None:
        """The type of an active device (None when the device or its type is unknown)."""
        facts = self._facts.get(device_id)
        return self._types.get(facts.type_code) if facts is not None else None

    def types(self) -> Mapping[str, DeviceType]:
        """The device types this directory checks against."""
        return self._types

    def verify(self, device_id: str, token: str | None) -> bool:
        """True when `token` is the device's credential (constant-time; a re-sent verified token costs no HMAC)."""
        stored = self._secrets.get(device_id)
        if stored is None or not token:
            return False
        raw = token.encode()
        if len(raw) > MAX_TOKEN_BYTES:
            return False
        if len(stored) == DIGEST_BYTES:
            digest = stored
        elif hmac.compare_digest(stored, _VERIFIED + raw):
            return True
        else:  # another token than the one verified last: check it against the credential's digest
            digest = hmac.digest(self._key, stored[1:], "sha256")
        if not hmac.compare_digest(hmac.digest(self._key, raw, "sha256"), digest):
            return False
        if len(raw) + 1 != DIGEST_BYTES:  # a marked token must never look like a digest
            with self._lock:  # remember it, unless the credential was replaced meanwhile
                if self._secrets.get(device_id) is stored:
                    self._secrets[device_id] = _VERIFIED + raw
        return True

    def put(self, facts: DeviceFacts, credential_hash: str) -> None:
        """Add or replace an active device with its stored credential hash (hex)."""
        shared = DeviceFacts(
            facts.device_id, sys.intern(facts.type_code),
            sys.intern(facts.area_code) if facts.area_code else None, sys.intern(facts.area_path),
            self._places.setdefault(facts.place_codes, facts.place_codes),
            sys.intern(facts.household) if facts.household else None, facts.resident_id)
        digest = bytes.fromhex(credential_hash)
        if len(digest) != DIGEST_BYTES:
            raise ValueError("a credential hash is 64 hex digits")
        with self._lock:
            self._facts[shared.device_id] = shared
            old = self._secrets.get(shared.device_id)
            if old is None or self._digest(old) != digest:  # an unchanged credential keeps its verified token
                self._secrets[shared.device_id] = digest

    def _digest(self, stored: bytes) -> bytes:
        return stored if len(stored) == DIGEST_BYTES else hmac.digest(self._key, stored[1:], "sha256")

    def remove(self, device_id: str) -> None:
        """Forget a device (deactivated or deleted): its messages are refused from now on."""
        with self._lock:
            self._facts.pop(device_id, None)
            self._secrets.pop(device_id, None)
