"""The directory: agencies, sites, staff accounts and server settings.

The directory is loaded from one TOML file at start-up (see ``data/demo.toml``) and is
immutable afterwards. Every model forbids unknown keys so that a typo in the file is an
error instead of a silently ignored setting.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    StrictBool,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

__all__ = [
    "DEMO_CONFIG",
    "TOKEN_SECRET_ENV",
    "Agency",
    "AppointmentSettings",
    "AuthSettings",
    "ConfigError",
    "Directory",
    "ExpertRole",
    "IceSettings",
    "InterpreterProvider",
    "InterpreterRole",
    "InterpretingSettings",
    "Language",
    "LimitSettings",
    "LocalizedName",
    "Modality",
    "OpeningHours",
    "Outcome",
    "RoutingSettings",
    "Service",
    "Site",
    "StaffAccount",
    "SupervisorRole",
    "UiLanguage",
    "load_directory",
]

DEMO_CONFIG: Path = Path(__file__).parent / "data" / "demo.toml"
TOKEN_SECRET_ENV = "ETAPISTE_TOKEN_SECRET"

# ISO 639 code: "fi", "sv", "en", "ar", "so", "ru", "uk", "fa", "ckb", "et", "zh", "vi", "th",
# and the sign languages "fse" (Finnish Sign Language) and "fss" (Finland-Swedish Sign Language).
Language = str
Modality = Literal["spoken", "sign", "text"]  # text = speech-to-text interpreting
UiLanguage = Literal["fi", "sv", "en"]

_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"
_USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"

_Id = Annotated[str, StringConstraints(pattern=_ID_PATTERN)]
_Username = Annotated[str, StringConstraints(pattern=_USERNAME_PATTERN)]
_Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
_LanguageCode = Annotated[Language, StringConstraints(pattern=r"^[a-z]{2,3}$")]
_Positive = Annotated[float, Field(gt=0)]

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN_RE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
_LOOKAHEAD = timedelta(days=14)


class _LocatedError(ValueError):
    """A validation error that knows which key below the validated model it is about."""

    def __init__(self, message: str, loc: tuple[str | int, ...]) -> None:
        super().__init__(message)
        self.loc = loc


def _check_secret_length(value: SecretStr, minimum: int) -> SecretStr:
    if len(value.get_secret_value()) < minimum:
        raise ValueError(f"must be at least {minimum} characters long")
    return value


def _first_duplicate(values: Iterable[str]) -> tuple[int, str] | None:
    seen: set[str] = set()
    for index, value in enumerate(values):
        if value in seen:
            return index, value
        seen.add(value)
    return None


def _parse_span(span: str) -> tuple[int, int]:
    """Parse ``"HH:MM-HH:MM"`` into (start, end) minutes since midnight."""
    match = _SPAN_RE.match(span)
    if match is None:
        raise ValueError(f"opening hours span {span!r} is not of the form HH:MM-HH:MM")
    start_h, start_m, end_h, end_m = (int(part) for part in match.groups())
    if start_h > 23 or start_m > 59:
        raise ValueError(f"opening hours span {span!r} has an invalid start time")
    if end_m > 59 or end_h > 24 or (end_h == 24 and end_m != 0):
        raise ValueError(f"opening hours span {span!r} has an invalid end time")
    start, end = start_h * 60 + start_m, end_h * 60 + end_m
    if start >= end:
        raise ValueError(f"opening hours span {span!r} ends before it starts")
    return start, end


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LocalizedName(_Model):
    """A name in the three user interface languages."""

    fi: _Text
    sv: _Text
    en: _Text


class OpeningHours(_Model):
    """Weekly opening hours in local time, with closed dates such as public holidays."""

    mon: list[str] = []
    tue: list[str] = []
    wed: list[str] = []
    thu: list[str] = []
    fri: list[str] = []
    sat: list[str] = []
    sun: list[str] = []
    closed_dates: list[date] = []
    timezone: str = "Europe/Helsinki"

    @field_validator("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    @classmethod
    def _check_spans(cls, spans: list[str]) -> list[str]:
        for span in spans:
            _parse_span(span)
        return spans

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r}") from None
        return name

    @property
    def zone(self) -> ZoneInfo:
        """The time zone the hours are given in."""
        return ZoneInfo(self.timezone)

    def spans(self, day: date) -> list[tuple[int, int]]:
        """Return the sorted (start, end) minute spans on a local date; empty when closed."""
        if day in self.closed_dates:
            return []
        spans: list[str] = getattr(self, _WEEKDAYS[day.weekday()])
        return sorted(_parse_span(span) for span in spans)

    def is_open(self, at: datetime) -> bool:
        """Return True if open at the timezone-aware moment ``at``."""
        local = _localize(at, self.zone)
        # Spans have whole-minute bounds, so comparing whole seconds is exact.
        second = local.hour * 3600 + local.minute * 60 + local.second
        return any(start * 60 <= second < end * 60 for start, end in self.spans(local.date()))

    def next_opening(self, at: datetime) -> datetime | None:
        """Return the first moment at or after ``at`` when open, or None within 14 days."""
        zone = self.zone
        local = _localize(at, zone)
        if self.is_open(local):
            return local
        limit = local + _LOOKAHEAD
        for offset in range(_LOOKAHEAD.days + 1):
            day = local.date() + timedelta(days=offset)
            for start, _end in self.spans(day):
                wall = datetime.combine(day, time(start // 60, start % 60), tzinfo=zone)
                # Round-trip through UTC to normalise wall times inside a DST gap.
                candidate = wall.astimezone(ZoneInfo("UTC")).astimezone(zone)
                if candidate > limit:
                    return None
                if candidate >= local:
                    return candidate
        return None


def _localize(at: datetime, zone: ZoneInfo) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("a timezone-aware datetime is required")
    return at.astimezone(zone)


class Service(_Model):
    """A service offered by an agency, i.e. one queue."""

    id: _Id
    name: LocalizedName
    languages: list[_LanguageCode] | None = None  # None = the agency's languages


class Agency(_Model):
    """A state agency, municipality or wellbeing services county answering calls."""

    id: _Id
    kind: Literal["state", "municipality", "wellbeing_county"]
    name: LocalizedName
    languages: list[_LanguageCode] = Field(min_length=1)
    hours: OpeningHours
    services: list[Service] = Field(min_length=1)
    # The agency's priority list of interpreters (usernames): rung first for its calls.
    preferred_interpreters: list[_Username] = []

    @model_validator(mode="after")
    def _check_services(self) -> Agency:
        duplicate = _first_duplicate(service.id for service in self.services)
        if duplicate is not None:
            index, value = duplicate
            raise _LocatedError(f"duplicate service id {value!r}", ("services", index, "id"))
        return self

    def service(self, service_id: str) -> Service | None:
        """Return the service with the given id, or None."""
        for service in self.services:
            if service.id == service_id:
                return service
        return None

    def service_languages(self, service_id: str) -> list[Language]:
        """Return the languages a service is offered in; empty for an unknown service."""
        service = self.service(service_id)
        if service is None:
            return []
        if service.languages is None:
            return list(self.languages)
        return list(service.languages)


class Site(_Model):
    """A customer service point: an S site (a room) or an XS site (a service bus)."""

    id: _Id
    kind: Literal["S", "XS"]
    name: LocalizedName
    municipality: _Text
    region: _Text
    device_secret: SecretStr
    default_language: UiLanguage = "fi"
    # This site's devices gather relay candidates only (a network where direct paths must
    # not be used); the experts who answer it keep their own policy. [ice] relay_only
    # makes every client relay.
    relay_only: StrictBool = False

    @field_validator("device_secret")
    @classmethod
    def _check_device_secret(cls, value: SecretStr) -> SecretStr:
        return _check_secret_length(value, 8)


class ExpertRole(_Model):
    """An agency expert who answers citizens' calls."""

    agencies: list[str] = Field(min_length=1)
    languages: list[_LanguageCode] = Field(min_length=1)
    services: list[str] | None = None  # None = all services of its agencies
    # Whether the expert picks, at the start of a shift, which of these skills to serve.
    choose_skills: bool = False


class InterpreterRole(_Model):
    """An interpreter who can be added to a call."""

    languages: list[_LanguageCode] = Field(min_length=1)
    modalities: list[Modality] = Field(min_length=1)
    provider: _Id  # an id of [[interpreter_providers]]
    # Working hours; None = rung at any time while available.
    hours: OpeningHours | None = None


class InterpreterProvider(_Model):
    """An interpreting company or unit, and the agencies it has a contract with."""

    id: _Id
    name: _Text
    agencies: list[str] = Field(min_length=1)


class SupervisorRole(_Model):
    """A supervisor who sees the queues and calls of some agencies."""

    agencies: list[str] = Field(min_length=1)


class StaffAccount(_Model):
    """A staff member who logs in with a browser."""

    username: _Username
    display_name: _Text
    # What citizens see of this person in a call: a first name or a title, as they chose;
    # unset shows only the agency.
    public_name: _Text | None = None
    password_hash: str
    expert: ExpertRole | None = None
    interpreter: InterpreterRole | None = None
    supervisor: SupervisorRole | None = None
    admin: StrictBool = False

    @field_validator("password_hash")
    @classmethod
    def _check_password_hash(cls, value: str) -> str:
        if not value.startswith("$argon2"):
            raise ValueError("must be an argon2 hash (starting with '$argon2')")
        return value

    @model_validator(mode="after")
    def _check_roles(self) -> StaffAccount:
        if not self.roles():
            raise ValueError("account has no role (expert, interpreter, supervisor or admin)")
        return self

    def grants(self) -> dict[str, dict[str, Any]]:
        """Return each role's scope (agencies, languages, modalities, provider)."""
        grants: dict[str, dict[str, Any]] = {}
        for role in ("expert", "interpreter", "supervisor"):
            scope = getattr(self, role)
            if scope is not None:
                grants[role] = scope.model_dump(mode="json", exclude_none=True)
        if self.admin:
            grants["admin"] = {}
        return grants

    def roles(self) -> list[str]:
        """Return the account's roles in the order expert, interpreter, supervisor, admin."""
        roles: list[str] = []
        if self.expert is not None:
            roles.append("expert")
        if self.interpreter is not None:
            roles.append("interpreter")
        if self.supervisor is not None:
            roles.append("supervisor")
        if self.admin:
            roles.append("admin")
        return roles


class Outcome(_Model):
    """A call outcome an expert records when a call ends."""

    id: _Id
    name: LocalizedName


class RoutingSettings(_Model):
    """Timers used by call routing."""

    ring_timeout_s: _Positive = 20
    reoffer_cooldown_s: float = Field(default=30, ge=0)
    default_handling_time_s: _Positive = 300
    grace_period_s: _Positive = 30
    queue_status_interval_s: float = Field(default=10, gt=0, le=15)
    # Offers that ring out unanswered in a row before the expert is paused: calls must
    # not keep ringing at an empty desk.
    pause_after_missed_offers: int = Field(default=2, ge=1, le=20)
    # After a call the expert is held off the routing this long to finish their notes,
    # then becomes available by itself (0 = straight back).
    wrap_up_s: float = Field(default=30, ge=0, le=3600)


class InterpretingSettings(_Model):
    """Timers of on-demand interpreter requests (docs/protocol.md §5.3)."""

    # The agency's preferred interpreters ring alone this long, then everyone eligible.
    widen_after_s: float = Field(default=15, ge=0, le=600)
    # One ring at one interpreter lasts this long; then that interpreter is skipped.
    ring_timeout_s: _Positive = 30
    # After this long without an accept, the booth and the expert are told plainly.
    answer_limit_s: _Positive = 90
    # Rings in a row that rang out before the interpreter is paused (an empty desk).
    pause_after_missed_rings: int = Field(default=2, ge=1, le=20)
    # Interpreters in one session at most (2 = team interpreting).
    max_per_session: int = Field(default=2, ge=1, le=4)


class AppointmentSettings(_Model):
    """Booked appointments: check-in window, codes and guessing limits."""

    # A citizen may check in this long before the start, until the end.
    checkin_early_s: float = Field(default=900, ge=0, le=7200)
    # A booked call waits this long for its booked expert (if they are signed in) before
    # anyone of the queue may answer it.
    booked_expert_wait_s: float = Field(default=300, ge=0, le=3600)
    code_digits: int = Field(default=8, ge=6, le=12)
    # Wrong codes at one booth within the window before it must wait.
    wrong_code_limit: int = Field(default=5, ge=1, le=100)
    wrong_code_window_s: float = Field(default=600, gt=0)


class LimitSettings(_Model):
    """Per-connection limits of the signalling server."""

    max_message_bytes: int = Field(default=65536, gt=0)
    rate_per_s: _Positive = 20
    rate_burst: int = Field(default=60, gt=0)
    send_queue_max: int = Field(default=256, gt=0)
    heartbeat_s: _Positive = 10
    hello_timeout_s: _Positive = 10


class AuthSettings(_Model):
    """Token signing settings; ETAPISTE_TOKEN_SECRET in the environment overrides the secret."""

    token_secret: SecretStr
    token_ttl_s: int = Field(default=900, gt=0)
    device_token_ttl_s: int = Field(default=900, gt=0)
    # A console login lasts at most this long however often it is refreshed (a shift);
    # then the expert signs in again, without losing a call in progress.
    staff_session_max_s: int = Field(default=12 * 3600, gt=0)
    # Password guessing: after this many failed logins within the window, a username (or,
    # at ten times as many, one address) must wait until the oldest failure leaves it.
    login_max_failures: int = Field(default=5, ge=1, le=100)
    login_failure_window_s: float = Field(default=900, gt=0)

    @field_validator("token_secret")
    @classmethod
    def _check_token_secret(cls, value: SecretStr) -> SecretStr:
        return _check_secret_length(value, 32)


class IceSettings(_Model):
    """STUN and TURN servers handed to browsers and devices."""

    stun_urls: list[str] = []
    turn_urls: list[str] = []
    turn_secret: SecretStr | None = None
    turn_ttl_s: int = Field(default=3600, gt=0)
    # Every client gathers relay candidates only (iceTransportPolicy "relay"): for sites
    # where direct paths must not be used, and for the tests that prove the relay works.
    relay_only: bool = False

    @field_validator("stun_urls")
    @classmethod
    def _check_stun_urls(cls, urls: list[str]) -> list[str]:
        return _check_urls(urls, ("stun:",))

    @field_validator("turn_urls")
    @classmethod
    def _check_turn_urls(cls, urls: list[str]) -> list[str]:
        _check_urls(urls, ("turn:", "turns:"))
        for url in urls:
            if url.startswith("turns:") and _TURNS_PORT.fullmatch(url) is None:
                # Clients disagree on the default (RFC 7065: 5349; we serve TURNS on 443),
                # and aiortc speaks TURNS only over TCP: say both.
                raise ValueError(
                    f"{url!r} needs an explicit port and TCP, e.g. turns:host:443?transport=tcp"
                )
        return urls

    @model_validator(mode="after")
    def _check_turn_secret(self) -> IceSettings:
        if self.turn_urls and self.turn_secret is None:
            raise _LocatedError("turn_urls are set but turn_secret is missing", ("turn_secret",))
        if self.relay_only and not self.turn_urls:
            raise _LocatedError("relay_only needs turn_urls to relay through", ("relay_only",))
        return self


_TURNS_PORT = re.compile(r"turns:(\[[0-9a-fA-F:.]+\]|[^:?\[\]]+):\d{1,5}(\?transport=tcp)?")


def _check_urls(urls: list[str], schemes: tuple[str, ...]) -> list[str]:
    for url in urls:
        scheme, _, rest = url.partition(":")
        if f"{scheme}:" not in schemes or not rest:
            raise ValueError(f"{url!r} is not a {' or '.join(schemes)} URL")
    return urls


class Directory(_Model):
    """The whole configuration: agencies, sites, staff, outcomes and settings."""

    agencies: list[Agency]
    sites: list[Site]
    staff: list[StaffAccount]
    outcomes: list[Outcome] = Field(min_length=1)
    interpreter_providers: list[InterpreterProvider] = []
    routing: RoutingSettings = RoutingSettings()
    interpreting: InterpretingSettings = InterpretingSettings()
    appointments: AppointmentSettings = AppointmentSettings()
    limits: LimitSettings = LimitSettings()
    auth: AuthSettings
    ice: IceSettings = IceSettings()

    _agencies: dict[str, Agency] = PrivateAttr(default_factory=dict)
    _sites: dict[str, Site] = PrivateAttr(default_factory=dict)
    _accounts: dict[str, StaffAccount] = PrivateAttr(default_factory=dict)
    _outcomes: dict[str, Outcome] = PrivateAttr(default_factory=dict)
    _providers: dict[str, InterpreterProvider] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _check_references(self) -> Directory:
        _check_unique("agencies", "agency id", [agency.id for agency in self.agencies])
        _check_unique("sites", "site id", [site.id for site in self.sites])
        _check_unique("outcomes", "outcome id", [outcome.id for outcome in self.outcomes])
        _check_unique(
            "staff", "username", [account.username for account in self.staff], key="username"
        )
        agencies = {agency.id: agency for agency in self.agencies}
        _check_unique(
            "interpreter_providers", "provider id", [p.id for p in self.interpreter_providers]
        )
        providers = {provider.id: provider for provider in self.interpreter_providers}
        for index, provider in enumerate(self.interpreter_providers):
            _check_agency_refs(
                agencies, provider.agencies, ("interpreter_providers", index, "agencies")
            )
        for index, account in enumerate(self.staff):
            if account.expert is not None:
                expert = account.expert
                loc: tuple[str | int, ...] = ("staff", index, "expert")
                _check_agency_refs(agencies, expert.agencies, (*loc, "agencies"))
                for position, service_id in enumerate(expert.services or []):
                    if not any(agencies[a].service(service_id) for a in expert.agencies):
                        offered_by = ", ".join(expert.agencies)
                        raise _LocatedError(
                            f"service {service_id!r} is not offered by {offered_by}",
                            (*loc, "services", position),
                        )
            if account.supervisor is not None:
                loc = ("staff", index, "supervisor", "agencies")
                _check_agency_refs(agencies, account.supervisor.agencies, loc)
            if account.interpreter is not None and account.interpreter.provider not in providers:
                raise _LocatedError(
                    f"unknown interpreter provider {account.interpreter.provider!r}",
                    ("staff", index, "interpreter", "provider"),
                )
        interpreters = {a.username for a in self.staff if a.interpreter is not None}
        for index, agency in enumerate(self.agencies):
            for position, username in enumerate(agency.preferred_interpreters):
                if username not in interpreters:
                    raise _LocatedError(
                        f"{username!r} is not an interpreter account",
                        ("agencies", index, "preferred_interpreters", position),
                    )
        if not self.ice.turn_urls:
            for index, site in enumerate(self.sites):
                if site.relay_only:
                    raise _LocatedError(
                        "relay_only needs [ice] turn_urls to relay through",
                        ("sites", index, "relay_only"),
                    )
        self._providers = providers
        self._agencies = agencies
        self._sites = {site.id: site for site in self.sites}
        self._accounts = {account.username: account for account in self.staff}
        self._outcomes = {outcome.id: outcome for outcome in self.outcomes}
        return self

    def agency(self, agency_id: str) -> Agency | None:
        """Return the agency with the given id, or None."""
        return self._agencies.get(agency_id)

    def site(self, site_id: str) -> Site | None:
        """Return the site with the given id, or None."""
        return self._sites.get(site_id)

    def relay_only(self, site_id: str | None) -> bool:
        """Whether a client (of ``site_id``, if it belongs to a site) must only relay."""
        site = self._sites.get(site_id) if site_id else None
        return self.ice.relay_only or (site is not None and site.relay_only)

    def account(self, username: str) -> StaffAccount | None:
        """Return the staff account with the given username, or None."""
        return self._accounts.get(username)

    def outcome(self, outcome_id: str) -> Outcome | None:
        """Return the outcome with the given id, or None."""
        return self._outcomes.get(outcome_id)

    def provider(self, provider_id: str) -> InterpreterProvider | None:
        """Return the interpreter provider with the given id, or None."""
        return self._providers.get(provider_id)

    def interpreters(self) -> list[StaffAccount]:
        """Return every account with an interpreter role, in file order."""
        return [account for account in self.staff if account.interpreter is not None]


def _check_unique(field: str, what: str, values: Sequence[str], key: str = "id") -> None:
    duplicate = _first_duplicate(values)
    if duplicate is not None:
        index, value = duplicate
        raise _LocatedError(f"duplicate {what} {value!r}", (field, index, key))


def _check_agency_refs(
    agencies: dict[str, Agency], refs: Sequence[str], loc: tuple[str | int, ...]
) -> None:
    for position, agency_id in enumerate(refs):
        if agency_id not in agencies:
            raise _LocatedError(f"unknown agency {agency_id!r}", (*loc, position))


class ConfigError(Exception):
    """The configuration file is invalid."""

    def __init__(self, path: str, key: str, reason: str) -> None:
        super().__init__(f"{path}: {key}: {reason}")
        self.path = path
        self.key = key
        self.reason = reason


# Keys whose values must never be echoed into error messages or logs.
_SECRET_KEYS = frozenset({"device_secret", "token_secret", "turn_secret", "password_hash"})


def load_directory(path: str | os.PathLike[str] | None = None) -> Directory:
    """Load and validate a directory TOML file; the demo config when no path is given."""
    file = Path(DEMO_CONFIG if path is None else path)
    name = str(file)
    try:
        with file.open("rb") as stream:
            data = tomllib.load(stream)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(name, "<toml>", str(exc)) from None
    except OSError as exc:
        raise ConfigError(name, "<file>", exc.strerror or str(exc)) from None

    env_secret = os.environ.get(TOKEN_SECRET_ENV)
    if env_secret is not None:
        auth = data.setdefault("auth", {})
        if isinstance(auth, dict):
            auth["token_secret"] = env_secret

    try:
        return Directory.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        loc = tuple(first["loc"])
        reason = first["msg"].removeprefix("Value error, ")
        error = first.get("ctx", {}).get("error")
        if isinstance(error, _LocatedError):
            loc += error.loc
        elif (
            first["type"] != "extra_forbidden"
            and not (loc and loc[-1] in _SECRET_KEYS)
            and isinstance(first["input"], str | int | float | bool | date)
        ):
            shown = repr(first["input"])
            if len(shown) > 60:
                shown = shown[:57] + "..."
            reason += f" (got {shown})"
        key = _format_loc(data, loc)
        if key == "auth.token_secret" and env_secret is not None:
            reason += f" (from {TOKEN_SECRET_ENV})"
        if len(errors) > 1:
            more = len(errors) - 1
            reason += f" (and {more} more error{'s' if more > 1 else ''})"
        raise ConfigError(name, key, reason) from None


def _format_loc(data: Any, loc: tuple[str | int, ...]) -> str:
    """Render an error location, naming list items by their id or username when they have one."""
    key = ""
    node: Any = data
    for part in loc:
        if isinstance(part, int):
            label: str | int = part
            item: Any = None
            if isinstance(node, list) and 0 <= part < len(node):
                item = node[part]
                if isinstance(item, dict):
                    ident = item.get("id", item.get("username"))
                    if isinstance(ident, str) and ident:
                        label = ident
            key += f"[{label}]"
            node = item
        else:
            key += f".{part}" if key else part
            node = node.get(part) if isinstance(node, dict) else None
    return key or "<root>"
