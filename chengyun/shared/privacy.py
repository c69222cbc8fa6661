"""Personal data by design: a keyed hash for matching, encryption for authorised use, masks for screens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from cryptography.fernet import Fernet, InvalidToken

from chengyun.errors import Invalid

_PHONE = re.compile(r"^(?:\+?86)?(1[3-9]\d{9})$")


def _derive(secret: str, purpose: str) -> bytes:
    return hashlib.sha256(f"chengyun:{purpose}:{secret}".encode()).digest()


class PersonalDataVault:
    """Hashes, encrypts and masks personal data with keys derived from the instance secret."""

    def __init__(self, secret: str) -> None:
        self._hash_key = _derive(secret, "match")
        self._fernet = Fernet(base64.urlsafe_b64encode(_derive(secret, "encrypt")))

    def match_hash(self, value: str) -> str:
        """Keyed hash of a normalised value: equal inputs match, the plain value cannot be recovered."""
        return hmac.new(self._hash_key, value.encode(), hashlib.sha256).hexdigest()

    def encrypt(self, value: str) -> str:
        """Authenticated encryption for later authorised reveal."""
        return self._fernet.encrypt(value.encode()).decode()

    def decrypt(self, token: str) -> str:
        """Reveal an encrypted value; callers must log the reveal."""
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise Invalid("privacy.undecryptable") from None


def normalise_phone(raw: str) -> str:
    """Mainland mobile numbers as 11 digits, or a precise error."""
    digits = re.sub(r"[\s\-()]", "", raw)
    match = _PHONE.match(digits)
    if not match:
        raise Invalid("privacy.bad_phone", value=mask_phone(digits))
    return match.group(1)


def mask_phone(phone: str) -> str:
    """138****1234: the screen shows only the first three and last four digits."""
    if len(phone) < 8:
        return "*" * len(phone)
    return f"{phone[:3]}****{phone[-4:]}"
