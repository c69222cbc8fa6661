"""Sign-in, browser sessions and machine tokens; secrets are generated, shown once, stored hashed."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from chengyun.areas.tables import AreaRow
from chengyun.audit import AuditLog, record
from chengyun.audit.tables import AuditEventRow
from chengyun.auth.model import Principal, Role
from chengyun.auth.tables import ApiTokenRow, UserRow, WebSessionRow
from chengyun.errors import Conflict, Invalid, NotFound, Unauthenticated
from chengyun.org.tables import UnitRow
from chengyun.shared.clock import Clock

MAX_FAILED_SIGN_INS = 10
FAILED_SIGN_IN_WINDOW = timedelta(minutes=15)
TOKEN_PREFIX = "cy_"  # noqa: S105 - a public marker, not a secret
MIN_PASSWORD_LENGTH = 10
LAST_USED_PRECISION = timedelta(minutes=1)
TOKEN_RECHECK = timedelta(seconds=5)  # how long a checked token is trusted without reading it again
MAX_CACHED_TOKENS = 10_000
_DUMMY_HASH = PasswordHasher().hash("timing-equaliser")


def sha256(text: str) -> str:
    """Hex SHA-256; random high-entropy tokens need no slow hash."""
    return hashlib.sha256(text.encode()).hexdigest()


def generate_password() -> str:
    """A 16-character password that is easy to type (no 0/O/l/1)."""
    alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(16))


@dataclass(frozen=True)
class NewSession:
    """A browser session just opened: the cookie value and its CSRF token."""

    cookie: str
    csrf: str
    principal: Principal


@dataclass
class AuthService:
    """Accounts and credentials."""

    sessions: sessionmaker[Session]
    clock: Clock
    audit: AuditLog
    session_max_age: timedelta
    hasher: PasswordHasher = PasswordHasher()  # noqa: RUF009 - immutable, safe to share
    _tokens: dict[str, tuple[datetime, Principal]] = field(default_factory=dict, init=False, repr=False)

    # --- accounts --------------------------------------------------------------------------------

    def create_user(self, *, username: str, display_name: str, role: Role, scope_code: str,
                    password: str | None = None, unit_id: int | None = None, person_id: int | None = None,
                    actor: str = "system") -> tuple[UserRow, str]:
        """Create an account; returns the row and the password (generated when none is given)."""
        username = _check_username(username)
        password = password or generate_password()
        _check_password(password)
        with self.sessions.begin() as session:
            if session.get(AreaRow, scope_code) is None:
                raise Invalid("auth.unknown_scope", scope=scope_code)
            if session.scalar(select(UserRow.id).where(UserRow.username == username)) is not None:
                raise Conflict("auth.username_taken", username=username)
            user = UserRow(username=username, display_name=display_name, role=role.value,
                           scope_code=scope_code, password_hash=self.hasher.hash(password),
                           unit_id=unit_id, person_id=person_id, is_active=True, created_at=self.clock.now())
            session.add(user)
            session.flush()
            record(session, self.clock, action="users.create", actor=actor, target=f"user:{username}",
                   role=role.value, scope=scope_code)
        return user, password

    def set_password(self, username: str, password: str | None = None, *, actor: str = "system") -> str:
        """Replace a password (generated when none is given) and end the user's sessions."""
        password = password or generate_password()
        _check_password(password)
        with self.sessions.begin() as session:
            user = _user_by_name(session, username)
            user.password_hash = self.hasher.hash(password)
            session.query(WebSessionRow).filter(WebSessionRow.user_id == user.id).delete()
            record(session, self.clock, action="users.set_password", actor=actor, target=f"user:{username}")
        return password

    def count_users(self, role: Role | None = None) -> int:
        """How many accounts exist (of one role)."""
        stmt = select(func.count()).select_from(UserRow)
        if role is not None:
            stmt = stmt.where(UserRow.role == role.value)
        with self.sessions() as session:
            return int(session.scalar(stmt) or 0)

    # --- sign-in ---------------------------------------------------------------------------------

    def sign_in(self, username: str, password: str, *, ip: str | None = None) -> NewSession:
        """Check the password (argon2) and open a browser session; failures are audited and throttled."""
        with self.sessions.begin() as session:
            self._refuse_if_throttled(session, username, ip)
            user = session.scalar(select(UserRow).where(UserRow.username == username.strip()))
            if user is None or not user.is_active or not self._password_ok(user, password):
                record(session, self.clock, action="auth.sign_in", actor=username[:64], outcome="failed",
                       ip=ip)
                failed = True
            else:
                failed = False
                user.last_login_at = self.clock.now()
                opened = self._open_session(session, user)
                record(session, self.clock, action="auth.sign_in", actor=user.username, actor_id=user.id,
                       ip=ip)
        if failed:
            raise Unauthenticated("auth.bad_credentials")
        return opened

    def _password_ok(self, user: UserRow, password: str) -> bool:
        try:
            return self.hasher.verify(user.password_hash or _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return False

    def _refuse_if_throttled(self, session: Session, username: str, ip: str | None) -> None:
        since = self.clock.now() - FAILED_SIGN_IN_WINDOW
        failures = session.scalar(
            select(func.count()).select_from(AuditEventRow).where(
                AuditEventRow.action == "auth.sign_in", AuditEventRow.outcome == "failed",
                AuditEventRow.actor == username[:64], AuditEventRow.at >= since,
            )
        )
        if (failures or 0) >= MAX_FAILED_SIGN_INS:
            self.audit.record_now(action="auth.sign_in", actor=username[:64], outcome="throttled", ip=ip)
            raise Unauthenticated("auth.throttled", minutes=int(FAILED_SIGN_IN_WINDOW.total_seconds() // 60))

    def _open_session(self, session: Session, user: UserRow) -> NewSession:
        cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = self.clock.now()
        session.add(WebSessionRow(token_hash=sha256(cookie), user_id=user.id, csrf_token=csrf,
                                  created_at=now, expires_at=now + self.session_max_age))
        return NewSession(cookie, csrf, _principal(session, user))

    def principal(self, username: str) -> Principal:
        """The principal an active account acts as (for the CLI, the demo simulator and tests)."""
        with self.sessions() as session:
            user = session.scalar(select(UserRow).where(UserRow.username == username))
            if user is None or not user.is_active:
                raise NotFound("auth.user_not_found", username=username)
            return _principal(session, user)

    def resolve_session(self, cookie: str) -> tuple[Principal, str] | None:
        """The principal and CSRF token of a live session cookie, or None (one read, on every page)."""
        with self.sessions() as session:
            found = session.execute(_SESSION_PRINCIPAL, {"hash": sha256(cookie)}).first()
        if found is None or found.expires_at <= self.clock.now() or not found.is_active:
            return None
        return _principal_of(found), found.csrf_token

    def sign_out(self, cookie: str) -> None:
        """End a browser session (idempotent)."""
        with self.sessions.begin() as session:
            row = session.get(WebSessionRow, sha256(cookie))
            if row is not None:
                user = session.get(UserRow, row.user_id)
                session.delete(row)
                record(session, self.clock, action="auth.sign_out", actor=user.username if user else "?",
                       actor_id=row.user_id)

    # --- machine tokens --------------------------------------------------------------------------

    def issue_token(self, username: str, name: str, *, actor: str = "system",
                    valid_days: int | None = None) -> str:
        """Create a bearer token for a machine account; the plain value is returned once only."""
        if not name.strip() or len(name) > 100:
            raise Invalid("auth.bad_token_name")
        prefix = secrets.token_hex(4)
        token = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
        now = self.clock.now()
        with self.sessions.begin() as session:
            user = _user_by_name(session, username)
            session.add(ApiTokenRow(user_id=user.id, name=name.strip(), prefix=prefix,
                                    token_hash=sha256(token), created_at=now,
                                    expires_at=now + timedelta(days=valid_days) if valid_days else None))
            record(session, self.clock, action="tokens.issue", actor=actor, target=f"user:{username}",
                   token_prefix=prefix, name=name)
        return token

    def resolve_token(self, token: str) -> Principal | None:
        """The principal behind a live bearer token, or None; `last_used_at` is kept to the minute.

        A machine sends hundreds of requests a second with one token: a valid answer is reused for
        TOKEN_RECHECK (a revocation in this process takes effect at once, in another within that time).
        """
        digest = sha256(token)
        now = self.clock.now()
        cached = self._tokens.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        with self.sessions() as session:
            found = session.execute(_TOKEN_PRINCIPAL, {"hash": digest}).first()
        if found is None or found.revoked_at is not None or (found.expires_at and found.expires_at <= now) \
                or not found.is_active:
            self._tokens.pop(digest, None)
            return None
        stamped = found.last_used_at
        if stamped is None or now - stamped >= LAST_USED_PRECISION:
            with self.sessions.begin() as session:  # a write at most once a minute per token, not per request
                session.execute(update(ApiTokenRow).where(ApiTokenRow.id == found.token_id)
                                .values(last_used_at=now))
            stamped = now
        principal = replace(_principal_of(found), via_token=True)
        if len(self._tokens) >= MAX_CACHED_TOKENS:
            self._tokens.clear()
        # trusted until the recheck, the next minute's last-use stamp or the token's expiry, whichever is first
        until = min(now + TOKEN_RECHECK, stamped + LAST_USED_PRECISION, found.expires_at or now + TOKEN_RECHECK)
        self._tokens[digest] = (until, principal)
        return principal

    def revoke_token(self, prefix: str, *, actor: str = "system") -> None:
        """Revoke a token by its public prefix."""
        with self.sessions.begin() as session:
            row = session.scalar(select(ApiTokenRow).where(ApiTokenRow.prefix == prefix))
            if row is None:
                raise NotFound("auth.token_not_found", prefix=prefix)
            row.revoked_at = self.clock.now()
            self._tokens.pop(row.token_hash, None)
            record(session, self.clock, action="tokens.revoke", actor=actor, token_prefix=prefix)


_WHO = (UserRow.id.label("user_id"), UserRow.username, UserRow.display_name, UserRow.role, UserRow.scope_code,
        UserRow.is_active, AreaRow.path.label("scope_path"), UnitRow.code.label("unit_code"))
_TOKEN_PRINCIPAL = (select(ApiTokenRow.id.label("token_id"), ApiTokenRow.revoked_at, ApiTokenRow.expires_at,
                           ApiTokenRow.last_used_at, *_WHO)
                    .join(UserRow, UserRow.id == ApiTokenRow.user_id)
                    .outerjoin(AreaRow, AreaRow.code == UserRow.scope_code)
                    .outerjoin(UnitRow, UnitRow.id == UserRow.unit_id)
                    .where(ApiTokenRow.token_hash == bindparam("hash")))
_SESSION_PRINCIPAL = (select(WebSessionRow.expires_at, WebSessionRow.csrf_token, *_WHO)
                      .join(UserRow, UserRow.id == WebSessionRow.user_id)
                      .outerjoin(AreaRow, AreaRow.code == UserRow.scope_code)
                      .outerjoin(UnitRow, UnitRow.id == UserRow.unit_id)
                      .where(WebSessionRow.token_hash == bindparam("hash")))


def _principal_of(found: Any) -> Principal:
    """A principal from a row with the `_WHO` columns."""
    return Principal(found.user_id, found.username, found.display_name, Role(found.role), found.scope_code,
                     found.scope_path or "/nowhere/", unit_code=found.unit_code)


def _principal(session: Session, user: UserRow) -> Principal:
    path = session.scalar(select(AreaRow.path).where(AreaRow.code == user.scope_code)) or "/nowhere/"
    unit = session.scalar(select(UnitRow.code).where(UnitRow.id == user.unit_id)) if user.unit_id else None
    return Principal(user.id, user.username, user.display_name, Role(user.role), user.scope_code, path,
                     unit_code=unit)


def _user_by_name(session: Session, username: str) -> UserRow:
    user = session.scalar(select(UserRow).where(UserRow.username == username))
    if user is None:
        raise NotFound("auth.user_not_found", username=username)
    return user


def _check_username(username: str) -> str:
    name = username.strip()
    if not (3 <= len(name) <= 64) or not all(c.isalnum() or c in "._-" for c in name):
        raise Invalid("auth.bad_username", username=username)
    return name


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid("auth.weak_password", min_length=MIN_PASSWORD_LENGTH)
