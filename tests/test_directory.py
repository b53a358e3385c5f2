"""Tests for the directory model and loader."""

from __future__ import annotations

import tomllib
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from argon2 import PasswordHasher
from pydantic import ValidationError

from signaling.directory import (
    DEMO_CONFIG,
    ConfigError,
    Directory,
    IceSettings,
    OpeningHours,
    RoutingSettings,
    load_directory,
)

HELSINKI = ZoneInfo("Europe/Helsinki")
UTC = ZoneInfo("UTC")

AGENCY_IDS = {
    "kela",
    "vero",
    "migri",
    "poliisi",
    "dvv",
    "mml",
    "te",
    "ulosotto",
    "rise",
    "avi",
    "ely",
    "oikeusapu",
    "kitee",
    "siunsote",
}
USERNAMES = {
    "kela.expert",
    "vero.expert",
    "migri.expert",
    "tulkki.ar",
    "tulkki.fse",
    "tulkki.text",
    "supervisor",
    "kela.supervisor",
    "admin",
}
OUTCOME_IDS = {
    "resolved",
    "follow_up",
    "referred",
    "technical_problem",
    "citizen_left",
    "wrong_queue",
}


@pytest.fixture(autouse=True)
def _no_secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ETAPISTE_TOKEN_SECRET", raising=False)


@pytest.fixture
def demo() -> Directory:
    return load_directory()


def helsinki(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, sec, tzinfo=HELSINKI)


# --- demo config ------------------------------------------------------------------------------


def test_demo_config_loads(demo: Directory) -> None:
    assert DEMO_CONFIG.is_file()
    assert load_directory(DEMO_CONFIG) == demo
    assert {agency.id for agency in demo.agencies} == AGENCY_IDS
    assert {site.id for site in demo.sites} >= {"lib-kitee", "bus-lieksa"}
    assert {account.username for account in demo.staff} == USERNAMES
    assert {outcome.id for outcome in demo.outcomes} == OUTCOME_IDS


def test_demo_lookups(demo: Directory) -> None:
    kela = demo.agency("kela")
    assert kela is not None and kela.name.sv == "FPA"
    assert demo.agency("nope") is None
    assert kela.service("housing") is not None
    assert kela.service("nope") is None
    assert kela.service_languages("general") == kela.languages
    assert kela.service_languages("nope") == []
    vero = demo.agency("vero")
    assert vero is not None
    assert vero.service_languages("inheritance") == ["fi", "sv"]

    kitee = demo.site("lib-kitee")
    assert kitee is not None
    assert (kitee.kind, kitee.municipality, kitee.region) == ("S", "Kitee", "Pohjois-Karjala")
    assert kitee.device_secret.get_secret_value() == "demo-secret-lib-kitee"
    assert "demo-secret" not in repr(kitee)
    bus = demo.site("bus-lieksa")
    assert bus is not None and bus.kind == "XS"
    assert bus.device_secret.get_secret_value() == "demo-secret-bus-lieksa"
    assert demo.site("nope") is None

    assert demo.outcome("resolved") is not None
    assert demo.outcome("nope") is None
    assert demo.account("nope") is None


def test_demo_accounts(demo: Directory) -> None:
    hasher = PasswordHasher()
    for account in demo.staff:
        assert hasher.verify(account.password_hash, "demo"), account.username
    hashes = [account.password_hash for account in demo.staff]
    assert len(set(hashes)) == len(hashes)

    def roles(username: str) -> list[str]:
        account = demo.account(username)
        assert account is not None
        return account.roles()

    assert roles("kela.expert") == ["expert"]
    assert roles("tulkki.fse") == ["interpreter"]
    assert roles("supervisor") == ["supervisor"]
    assert roles("admin") == ["admin"]

    kela_expert = demo.account("kela.expert")
    assert kela_expert is not None and kela_expert.expert is not None
    assert kela_expert.display_name == "Anna Virtanen"
    assert kela_expert.public_name == "Anna"
    assert kela_expert.expert.agencies == ["kela"]
    assert kela_expert.expert.languages == ["fi", "sv"]
    sign = demo.account("tulkki.fse")
    assert sign is not None and sign.interpreter is not None
    assert sign.interpreter.modalities == ["sign"]
    text = demo.account("tulkki.text")
    assert text is not None and text.interpreter is not None
    assert text.interpreter.modalities == ["text"]
    supervisor = demo.account("supervisor")
    assert supervisor is not None and supervisor.supervisor is not None
    assert set(supervisor.supervisor.agencies) == AGENCY_IDS


def test_demo_names_are_localized(demo: Directory) -> None:
    named: list[Any] = [*demo.agencies, *demo.sites, *demo.outcomes]
    named += [service for agency in demo.agencies for service in agency.services]
    for item in named:
        assert item.name.fi and item.name.sv and item.name.en, item.id


def test_demo_hours(demo: Directory) -> None:
    def agency_hours(agency_id: str) -> OpeningHours:
        agency = demo.agency(agency_id)
        assert agency is not None
        return agency.hours

    # Always-open agencies answer at any moment of the week, including holidays.
    start = helsinki(2025, 12, 22, 0, 0)
    for hour in range(0, 24 * 7, 5):
        moment = start + timedelta(hours=hour, minutes=hour)
        for agency_id in ("kela", "vero", "migri"):
            assert agency_hours(agency_id).is_open(moment)
    ulosotto = agency_hours("ulosotto")
    assert not ulosotto.is_open(start)
    assert ulosotto.next_opening(start) is None
    # rise is open only on some days.
    rise = agency_hours("rise")
    assert sum(bool(getattr(rise, day)) for day in ("mon", "tue", "wed", "thu", "fri")) < 5


def test_demo_defaults(demo: Directory) -> None:
    assert demo.routing == RoutingSettings()
    assert demo.ice.stun_urls == [] and demo.ice.turn_urls == []
    assert len(demo.auth.token_secret.get_secret_value()) == 48


# --- opening hours ----------------------------------------------------------------------------

OFFICE = OpeningHours(
    mon=["08:00-16:15"],
    tue=["08:00-16:15"],
    wed=["08:00-11:30", "12:30-16:00"],
    thu=["08:00-16:15"],
    fri=["08:00-16:15"],
    closed_dates=[date(2025, 12, 24), date(2025, 12, 25), date(2025, 12, 26)],
)


def test_is_open_office_hours() -> None:
    assert OFFICE.is_open(helsinki(2025, 12, 1, 8, 0))  # Monday, opening minute
    assert OFFICE.is_open(helsinki(2025, 12, 1, 16, 14, 59))
    assert not OFFICE.is_open(helsinki(2025, 12, 1, 16, 15))  # end is exclusive
    assert not OFFICE.is_open(helsinki(2025, 12, 1, 7, 59, 59))
    assert not OFFICE.is_open(helsinki(2025, 12, 3, 12, 0))  # Wednesday lunch
    assert OFFICE.is_open(helsinki(2025, 12, 3, 12, 30))
    assert not OFFICE.is_open(helsinki(2025, 12, 6, 10, 0))  # Saturday


def test_next_opening_over_weekend() -> None:
    friday_evening = helsinki(2025, 12, 5, 17, 0)
    assert OFFICE.next_opening(friday_evening) == helsinki(2025, 12, 8, 8, 0)
    saturday = helsinki(2025, 12, 6, 12, 0)
    assert OFFICE.next_opening(saturday) == helsinki(2025, 12, 8, 8, 0)
    # Before opening on the same day, and during the lunch break.
    assert OFFICE.next_opening(helsinki(2025, 12, 8, 6, 0)) == helsinki(2025, 12, 8, 8, 0)
    assert OFFICE.next_opening(helsinki(2025, 12, 3, 12, 0)) == helsinki(2025, 12, 3, 12, 30)


def test_next_opening_when_open_returns_at() -> None:
    now = helsinki(2025, 12, 1, 10, 11, 12)
    assert OFFICE.next_opening(now) == now


def test_closed_dates() -> None:
    christmas_eve = helsinki(2025, 12, 24, 10, 0)  # a Wednesday
    assert not OFFICE.is_open(christmas_eve)
    # Closed 24.-26.12., then the weekend: next opening is Monday 29.12.
    assert OFFICE.next_opening(christmas_eve) == helsinki(2025, 12, 29, 8, 0)
    assert OFFICE.is_open(helsinki(2025, 12, 23, 10, 0))


def test_always_closed() -> None:
    closed = OpeningHours()
    at = helsinki(2025, 12, 1, 10, 0)
    assert not closed.is_open(at)
    assert closed.next_opening(at) is None


def test_next_opening_beyond_fourteen_days_is_none() -> None:
    hours = OpeningHours(mon=["09:00-10:00"], closed_dates=[date(2025, 12, 8), date(2025, 12, 15)])
    assert hours.next_opening(helsinki(2025, 12, 2, 12, 0)) is None
    hours = OpeningHours(mon=["09:00-10:00"], closed_dates=[date(2025, 12, 8)])
    assert hours.next_opening(helsinki(2025, 12, 2, 12, 0)) == helsinki(2025, 12, 15, 9, 0)


def test_timezone_conversion() -> None:
    # 06:30 UTC on a winter Monday is 08:30 in Helsinki (UTC+2).
    assert OFFICE.is_open(datetime(2025, 12, 1, 6, 30, tzinfo=UTC))
    assert not OFFICE.is_open(datetime(2025, 12, 1, 5, 59, tzinfo=UTC))
    # Summer time (UTC+3): 05:00 UTC is 08:00 in Helsinki.
    assert OFFICE.is_open(datetime(2025, 6, 2, 5, 0, tzinfo=UTC))
    # Friday 23:30 UTC is already Saturday in Helsinki.
    assert not OFFICE.is_open(datetime(2025, 12, 5, 23, 30, tzinfo=UTC))
    nxt = OFFICE.next_opening(datetime(2025, 12, 5, 20, 0, tzinfo=UTC))
    assert nxt == datetime(2025, 12, 8, 6, 0, tzinfo=UTC)
    assert nxt is not None and nxt.tzinfo == HELSINKI and nxt.hour == 8


def test_naive_datetime_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        OFFICE.is_open(datetime(2025, 12, 1, 10, 0))


def test_span_ending_at_midnight() -> None:
    hours = OpeningHours(fri=["18:00-24:00"], sat=["00:00-02:00"])
    assert hours.is_open(helsinki(2025, 12, 5, 23, 59, 59))
    assert hours.is_open(helsinki(2025, 12, 6, 0, 0))
    assert not hours.is_open(helsinki(2025, 12, 6, 2, 0))
    assert hours.next_opening(helsinki(2025, 12, 5, 12, 0)) == helsinki(2025, 12, 5, 18, 0)
    assert hours.next_opening(helsinki(2025, 12, 6, 3, 0)) == helsinki(2025, 12, 12, 18, 0)


def test_other_timezone() -> None:
    hours = OpeningHours(mon=["09:00-10:00"], timezone="Europe/Stockholm")
    assert hours.is_open(helsinki(2025, 12, 1, 10, 30))  # 09:30 in Stockholm
    with pytest.raises(ValidationError, match="unknown time zone"):
        OpeningHours(timezone="Europe/Nowhere")


@pytest.mark.parametrize(
    "span",
    ["17:00-08:00", "08:00-08:00", "8:00-16:00", "08:00-24:30", "24:00-24:00", "08:60-09:00", "x"],
)
def test_bad_spans(span: str) -> None:
    with pytest.raises(ValidationError, match=span):
        OpeningHours(mon=[span])


def test_ice_settings() -> None:
    with pytest.raises(ValidationError, match="turn_secret"):
        IceSettings(turn_urls=["turn:turn.example.fi:3478"])
    with pytest.raises(ValidationError, match="stun:"):
        IceSettings(stun_urls=["https://stun.example.fi"])
    ice = IceSettings.model_validate(
        {"turn_urls": ["turns:turn.example.fi:443"], "turn_secret": "s3cret-value"}
    )
    assert ice.turn_secret is not None


# --- bad configs ------------------------------------------------------------------------------


def demo_data() -> dict[str, Any]:
    with DEMO_CONFIG.open("rb") as stream:
        return tomllib.load(stream)


def dump(value: Any) -> str:
    """Render a value as TOML (just enough for the demo data)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(dump(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f'"{k}" = {dump(v)}' for k, v in value.items()) + "}"
    raise TypeError(value)


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "directory.toml"
    path.write_text("".join(f"{key} = {dump(value)}\n" for key, value in data.items()))
    return path


def load_error(tmp_path: Path, data: dict[str, Any]) -> ConfigError:
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        load_directory(path)
    error = info.value
    assert error.path == str(path)
    assert str(error) == f"{path}: {error.key}: {error.reason}"
    return error


def agency(data: dict[str, Any], agency_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(a for a in data["agencies"] if a["id"] == agency_id)
    return found


def test_roundtrip_of_test_writer(tmp_path: Path) -> None:
    assert load_directory(write(tmp_path, demo_data())) == load_directory()


def test_unknown_top_level_key(tmp_path: Path) -> None:
    data = demo_data()
    data["routnig"] = {"ring_timeout_s": 5}
    error = load_error(tmp_path, data)
    assert error.key == "routnig"
    assert "Extra inputs are not permitted" in error.reason


def test_unknown_nested_key(tmp_path: Path) -> None:
    data = demo_data()
    agency(data, "kela")["hours"]["monday"] = ["08:00-16:00"]
    error = load_error(tmp_path, data)
    assert error.key == "agencies[kela].hours.monday"
    assert str(tmp_path) in str(error)


def test_bad_value_type(tmp_path: Path) -> None:
    data = demo_data()
    data["routing"]["ring_timeout_s"] = "soon"
    error = load_error(tmp_path, data)
    assert error.key == "routing.ring_timeout_s"
    assert "'soon'" in error.reason
    data = demo_data()
    data["staff"][-1]["admin"] = "yes"
    error = load_error(tmp_path, data)
    assert error.key == "staff[admin].admin"


def test_out_of_range_value(tmp_path: Path) -> None:
    data = demo_data()
    data["routing"]["queue_status_interval_s"] = 30
    error = load_error(tmp_path, data)
    assert error.key == "routing.queue_status_interval_s"
    assert "15" in error.reason


def test_bad_literal_in_list(tmp_path: Path) -> None:
    data = demo_data()
    next(s for s in data["staff"] if s["username"] == "tulkki.ar")["interpreter"]["modalities"] = [
        "telepathy"
    ]
    error = load_error(tmp_path, data)
    assert error.key == "staff[tulkki.ar].interpreter.modalities[0]"
    assert "telepathy" in error.reason


def test_missing_name_translation(tmp_path: Path) -> None:
    data = demo_data()
    del agency(data, "vero")["services"][1]["name"]["sv"]
    error = load_error(tmp_path, data)
    assert error.key == "agencies[vero].services[tax-return].name.sv"
    assert "required" in error.reason.lower()


def test_duplicate_agency_id(tmp_path: Path) -> None:
    data = demo_data()
    data["agencies"].append(dict(agency(data, "kela")))
    error = load_error(tmp_path, data)
    assert error.key == "agencies[kela].id"
    assert "duplicate agency id 'kela'" in error.reason


def test_duplicate_service_id(tmp_path: Path) -> None:
    data = demo_data()
    services = agency(data, "migri")["services"]
    services.append(dict(services[0]))
    error = load_error(tmp_path, data)
    assert error.key == "agencies[migri].services[residence-permit].id"
    assert "duplicate service id" in error.reason


def test_duplicate_username(tmp_path: Path) -> None:
    data = demo_data()
    data["staff"].append(dict(data["staff"][0]))
    error = load_error(tmp_path, data)
    assert error.key == "staff[kela.expert].username"
    assert "duplicate username" in error.reason


def test_expert_unknown_agency(tmp_path: Path) -> None:
    data = demo_data()
    data["staff"][0]["expert"]["agencies"] = ["kela", "fpa"]
    error = load_error(tmp_path, data)
    assert error.key == "staff[kela.expert].expert.agencies[1]"
    assert "unknown agency 'fpa'" in error.reason


def test_a_relay_only_site_needs_a_turn_server(tmp_path: Path) -> None:
    data = demo_data()
    data["sites"][1]["relay_only"] = True
    error = load_error(tmp_path, data)
    assert error.key == f"sites[{data['sites'][1]['id']}].relay_only"
    assert "turn_urls" in error.reason
    data["ice"] = {"turn_urls": ["turn:turn.example.fi:3478"], "turn_secret": "s3cret"}
    directory = load_directory(write(tmp_path, data))
    assert directory.relay_only(data["sites"][1]["id"])
    assert not directory.relay_only(data["sites"][0]["id"])
    assert not directory.relay_only(None)  # staff belong to no site
    data["sites"][1]["relay_only"] = False
    data["ice"]["relay_only"] = True
    everyone = load_directory(write(tmp_path, data))
    assert everyone.relay_only(data["sites"][0]["id"]) and everyone.relay_only(None)


def test_supervisor_unknown_agency(tmp_path: Path) -> None:
    data = demo_data()
    supervisor = next(s for s in data["staff"] if s["username"] == "supervisor")
    supervisor["supervisor"]["agencies"].append("nato")
    error = load_error(tmp_path, data)
    assert error.key.startswith("staff[supervisor].supervisor.agencies[")
    assert "unknown agency 'nato'" in error.reason


def test_expert_unknown_service(tmp_path: Path) -> None:
    data = demo_data()
    data["staff"][0]["expert"]["services"] = ["housing", "tax-card"]
    error = load_error(tmp_path, data)
    assert error.key == "staff[kela.expert].expert.services[1]"
    assert "'tax-card'" in error.reason
    data["staff"][0]["expert"]["services"] = ["housing", "pension"]
    assert load_directory(write(tmp_path, data)).account("kela.expert") is not None


def test_bad_hours_span(tmp_path: Path) -> None:
    data = demo_data()
    agency(data, "poliisi")["hours"]["tue"] = ["17:00-08:00"]
    error = load_error(tmp_path, data)
    assert error.key == "agencies[poliisi].hours.tue"
    assert "17:00-08:00" in error.reason
    assert "17:00-08:00" in str(error)


def test_several_errors_are_counted(tmp_path: Path) -> None:
    data = demo_data()
    data["routing"]["ring_timeout_s"] = -1
    data["routing"]["grace_period_s"] = 0
    data["limits"]["rate_burst"] = 0
    error = load_error(tmp_path, data)
    assert error.key == "routing.ring_timeout_s"
    assert error.reason.endswith("(and 2 more errors)")


def test_secret_values_not_echoed(tmp_path: Path) -> None:
    data = demo_data()
    data["sites"][0]["device_secret"] = "short"
    error = load_error(tmp_path, data)
    assert error.key == "sites[lib-kitee].device_secret"
    assert "8 characters" in error.reason
    assert "short" not in str(error)


def test_bad_password_hash(tmp_path: Path) -> None:
    data = demo_data()
    data["staff"][-1]["password_hash"] = "demo"
    error = load_error(tmp_path, data)
    assert error.key == "staff[admin].password_hash"
    assert "argon2" in error.reason


def test_account_without_role(tmp_path: Path) -> None:
    data = demo_data()
    data["staff"][-1]["admin"] = False
    error = load_error(tmp_path, data)
    assert error.key == "staff[admin]"
    assert "no role" in error.reason


def test_toml_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('[routing]\nring_timeout_s = 20\n[[agencies]\nid = "kela"\n')
    with pytest.raises(ConfigError) as info:
        load_directory(path)
    assert info.value.key == "<toml>"
    assert "line 3" in info.value.reason
    assert str(info.value).startswith(f"{path}: <toml>: ")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.toml"
    with pytest.raises(ConfigError) as info:
        load_directory(str(path))
    assert info.value.path == str(path)
    assert info.value.key == "<file>"


# --- environment ------------------------------------------------------------------------------


def test_token_secret_env_override(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "x" * 40
    monkeypatch.setenv("ETAPISTE_TOKEN_SECRET", secret)
    directory = load_directory()
    assert directory.auth.token_secret.get_secret_value() == secret


def test_token_secret_env_override_without_auth_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = demo_data()
    del data["auth"]
    error = load_error(tmp_path, data)
    assert error.key == "auth"
    monkeypatch.setenv("ETAPISTE_TOKEN_SECRET", "y" * 32)
    directory = load_directory(write(tmp_path, data))
    assert directory.auth.token_secret.get_secret_value() == "y" * 32
    assert directory.auth.token_ttl_s == 900


def test_token_secret_env_too_short(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETAPISTE_TOKEN_SECRET", "too-short")
    with pytest.raises(ConfigError) as info:
        load_directory()
    assert info.value.key == "auth.token_secret"
    assert "ETAPISTE_TOKEN_SECRET" in info.value.reason
    assert "too-short" not in str(info.value)
