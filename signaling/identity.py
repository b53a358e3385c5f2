"""Who is calling: device and staff credentials exchanged for short-lived signed tokens."""

from __future__ import annotations

import asyncio
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .directory import Directory

ALGORITHM = "HS256"
ISSUER = "etapiste"

PrincipalKind = Literal["booth", "staff", "guest"]
# One site secret, three identities: the kiosk page (calls), the endpoint agent (health)
# and its document camera (a participant of calls). Different subjects, so none replaces
# another's link.
DeviceRole = Literal["kiosk", "agent", "doccam"]
DEVICE_ROLES: tuple[DeviceRole, ...] = ("kiosk", "agent", "doccam")


@dataclass(frozen=True)
class Principal:
    """An authenticated booth device or staff member."""

    kind: PrincipalKind
    subject: str
    roles: tuple[str, ...]
    site: str | None = None
    username: str | None = None

    def has_role(self, role: str) -> bool:
        """Tell whether the principal holds a role."""
        return role in self.roles


class TokenError(Exception):
    """A token is expired, forged, malformed or of the wrong type."""


class Authority:
    """Checks credentials and issues and verifies tokens."""

    def __init__(self, directory: Directory, clock: Callable[[], float] = time.time) -> None:
        self._directory = directory
        self._secret = directory.auth.token_secret.get_secret_value()
        self._clock = clock
        self._hasher = PasswordHasher()
        # A fixed hash to verify against for unknown users, so that timing does not
        # tell which usernames exist.
        self._decoy_hash = self._hasher.hash(secrets.token_hex(16))

    def authenticate_device(
        self, site_id: str, secret: str, role: DeviceRole = "kiosk"
    ) -> Principal | None:
        """Return the site's kiosk, agent or doccam principal for its device secret, or None."""
        site = self._directory.site(site_id)
        expected = site.device_secret.get_secret_value() if site else secrets.token_hex(16)
        if not hmac.compare_digest(expected.encode(), secret.encode()) or site is None:
            return None
        if role == "agent":
            return Principal(
                kind="booth", subject=f"agent:{site.id}", roles=("booth_agent",), site=site.id
            )
        if role == "doccam":
            return Principal(
                kind="booth", subject=f"doccam:{site.id}", roles=("doccam",), site=site.id
            )
        return Principal(kind="booth", subject=f"site:{site.id}", roles=("booth",), site=site.id)

    async def authenticate_staff(self, username: str, password: str) -> Principal | None:
        """Return the staff principal for a username and password, or None."""
        account = self._directory.account(username)
        stored = account.password_hash if account else self._decoy_hash
        # argon2 is deliberately slow: keep it off the event loop.
        ok = await asyncio.to_thread(self._verify, stored, password)
        if not ok or account is None:
            return None
        return Principal(
            kind="staff",
            subject=f"staff:{account.username}",
            roles=tuple(account.roles()),
            username=account.username,
        )

    def guest(self, appointment_id: str) -> Principal:
        """Return the principal of a citizen who joins an appointment from home."""
        return Principal(kind="guest", subject=f"guest:{appointment_id}", roles=("guest",))

    def csrf_token(self, login_id: str) -> str:
        """Return the CSRF token of a login session (derived, so nothing is stored)."""
        return hmac.new(self._secret.encode(), b"csrf:" + login_id.encode(), "sha256").hexdigest()

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    def issue(
        self,
        principal: Principal,
        *,
        typ: str = "access",
        extra: dict[str, Any] | None = None,
        not_after: float | None = None,
    ) -> tuple[str, float]:
        """Return a signed token for the principal and when it expires (never after
        ``not_after``); ``extra`` claims ride along (a login session's id and start)."""
        now = self._clock()
        if typ == "resume":
            ttl: float = self._directory.routing.grace_period_s + self._directory.auth.token_ttl_s
        elif principal.kind == "booth":
            ttl = self._directory.auth.device_token_ttl_s
        else:
            ttl = self._directory.auth.token_ttl_s
        expires = now + ttl if not_after is None else min(now + ttl, not_after)
        claims: dict[str, Any] = {
            **(extra or {}),
            "iss": ISSUER,
            "typ": typ,
            "sub": principal.subject,
            "kind": principal.kind,
            "roles": list(principal.roles),
            "iat": int(now),
            "exp": expires,
        }
        if principal.site:
            claims["site"] = principal.site
        if principal.username:
            claims["username"] = principal.username
            account = self._directory.account(principal.username)
            if account is not None:
                claims["grants"] = account.grants()
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM), expires

    def verify(self, token: str, *, typ: str = "access") -> Principal:
        """Return the principal a token was issued to, or raise TokenError."""
        return self.verify_claims(token, typ=typ)[0]

    def verify_claims(self, token: str, *, typ: str = "access") -> tuple[Principal, dict[str, Any]]:
        """Return the principal a token was issued to and all its claims, or raise TokenError."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["exp", "sub", "typ", "kind"], "verify_iat": False},
                leeway=0,
            )
        except jwt.ExpiredSignatureError:
            raise TokenError("token has expired") from None
        except jwt.PyJWTError as exc:
            raise TokenError(f"token is not valid: {exc}") from None
        if claims.get("exp", 0) <= self._clock():
            raise TokenError("token has expired")
        if claims["typ"] != typ:
            raise TokenError(f"expected a {typ} token, got {claims['typ']}")
        kind = claims["kind"]
        if kind not in ("booth", "staff", "guest"):
            raise TokenError("token names an unknown kind of principal")
        principal = Principal(
            kind=kind,
            subject=str(claims["sub"]),
            roles=tuple(str(r) for r in claims.get("roles", ())),
            site=claims.get("site"),
            username=claims.get("username"),
        )
        self._check_still_known(principal)
        return principal, claims

    def _check_still_known(self, principal: Principal) -> None:
        """Refuse tokens of sites or accounts removed from the directory since issue."""
        if principal.site is not None and self._directory.site(principal.site) is None:
            raise TokenError("the site of this token no longer exists")
        if principal.username is not None and self._directory.account(principal.username) is None:
            raise TokenError("the account of this token no longer exists")
