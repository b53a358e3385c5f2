"""The endpoint agent: its configuration, health probes, local API and kiosk browser."""

from __future__ import annotations

import os
import signal
import stat
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from endpoint_agent.config import BoothConfig, BoothConfigError, DeviceSettings, load_config
from endpoint_agent.health import CpuMeter, NetworkMeter, audio_states, camera_states, video_devices
from endpoint_agent.kiosk_browser import KioskBrowser, PageHeartbeat
from signaling.client import SignalingClient
from signaling.directory import load_directory
from signaling.fleet import fleet
from signaling.store import open_store

from .support import BoothProcess, ServeProcess, eventually

CHROMIUM = "/usr/bin/chromium"


# --- configuration -------------------------------------------------------------------


def test_site_alone_is_enough_against_the_demo(tmp_path: Path) -> None:
    config = load_config(None, {"site": "lib-kitee"})
    assert config.device_secret() == "demo-secret-lib-kitee"
    assert config.websocket_url == "ws://127.0.0.1:8080/ws"
    with pytest.raises(BoothConfigError, match="no secret for site 'lib-nowhere'"):
        load_config(None, {"site": "lib-nowhere"}).device_secret()


def test_file_then_command_line(tmp_path: Path) -> None:
    secret = tmp_path / "device-secret"
    secret.write_text("from-the-file\n")
    booth_toml = tmp_path / "booth.toml"
    booth_toml.write_text(
        f'site = "bus-lieksa"\nsecret_file = "{secret}"\nserver = "https://etapiste.example.fi/"\n'
        'port = 9000\n[devices]\ndocument_camera = "none"\n'
    )
    config = load_config(booth_toml, {"port": 9100, "site": None})
    assert (config.site, config.port, config.device_secret()) == (
        "bus-lieksa",
        9100,
        "from-the-file",
    )
    assert config.websocket_url == "wss://etapiste.example.fi/ws"
    assert config.devices.document_camera == "none"
    overridden = load_config(booth_toml, {"secret": "from-the-command-line"})
    assert overridden.device_secret() == "from-the-command-line"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('site = "lib-kitee"\ncolour = "red"\n', "colour: Extra inputs are not permitted"),
        ('site = "lib-kitee"\nport = "eighty"\n', "port: Input should be a valid integer"),
        ('site = "Kitee Library"\n', "site: String should match pattern"),
        ('site = "lib-kitee"\nserver = "ftp://x"\n', "server: String should match pattern"),
        ("site = \n", "not valid TOML"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "booth.toml"
    path.write_text(text)
    with pytest.raises(BoothConfigError, match=message):
        load_config(path, {})


def test_missing_secret_file_is_a_clear_error(tmp_path: Path) -> None:
    config = BoothConfig(site="lib-kitee", secret_file=tmp_path / "nope")
    with pytest.raises(BoothConfigError, match="No such file"):
        config.device_secret()


# --- health probes (on made-up /sys and /proc trees) ---------------------------------


def test_cameras_count_capture_nodes_only(tmp_path: Path) -> None:
    for name, index in (("video0", "0"), ("video1", "1"), ("video2", "0"), ("video10", "0")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "index").write_text(index + "\n")
    found = video_devices(tmp_path)
    assert found == [Path("/dev/video0"), Path("/dev/video2"), Path("/dev/video10")]
    assert camera_states(DeviceSettings(), []) == ("missing", "missing")
    device = tmp_path / "dev-video"
    device.write_text("")
    device.chmod(stat.S_IRUSR | stat.S_IWUSR)
    settings = DeviceSettings(camera=str(device), document_camera="none")
    assert camera_states(settings, found) == ("ok", "missing")


def test_audio_from_the_alsa_pcm_list(tmp_path: Path) -> None:
    pcm = tmp_path / "pcm"
    pcm.write_text("00-00: USB Audio : USB Audio : playback 1 : capture 1\n")
    assert audio_states(pcm) == ("ok", "ok")
    pcm.write_text("00-03: HDMI 0 : HDMI 0 : playback 1\n")
    assert audio_states(pcm) == ("missing", "ok")
    assert audio_states(tmp_path / "absent") == ("missing", "missing")


def test_network_and_cpu_meters(tmp_path: Path) -> None:
    meter = NetworkMeter(window=4)
    assert (meter.rtt_ms, meter.loss_pct) == (None, None)
    for rtt in (12.0, None, 30.0, None, None):
        meter.record(rtt)
    assert (meter.rtt_ms, meter.loss_pct) == (30.0, 75.0)
    proc_stat = tmp_path / "stat"
    proc_stat.write_text("cpu  100 0 100 800 0 0 0 0 0 0\n")
    cpu = CpuMeter(proc_stat)
    assert cpu.percent() == 0.0
    proc_stat.write_text("cpu  150 0 150 900 0 0 0 0 0 0\n")  # 100 busy of 200
    assert cpu.percent() == 50.0


# --- the agent as a process, against a real server -----------------------------------


@asynccontextmanager
async def booth_agent(server: str) -> AsyncIterator[str]:
    """Run `etapiste booth` for lib-kitee against `server`; yield its kiosk URL.

    After the block the agent is stopped (SIGTERM) and must exit cleanly (code 0).
    """
    booth = BoothProcess(server)
    url = await booth.start()
    try:
        yield url
    finally:
        assert await booth.stop() == 0


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.mark.redis
async def test_agent_hands_the_page_a_kiosk_token_and_reports_health(
    redis_node: ServeProcess, redis_url: str, http: aiohttp.ClientSession
) -> None:
    async with booth_agent(redis_node.base_url) as url:
        async with http.get(url + "api/kiosk") as response:
            assert response.status == 200
            assert response.headers["Cache-Control"] == "no-store"
            settings = await response.json()
        assert settings["site"]["id"] == "lib-kitee" and settings["site"]["kind"] == "S"
        assert settings["site"]["name"]["sv"] == "Kides stadsbibliotek"
        assert settings["server_url"] == redis_node.ws_url
        assert settings["resume_token"] is None and settings["fake_devices"] is True
        assert "secret" not in str(settings)
        page = SignalingClient(settings["server_url"], settings["token"])
        welcome = await page.connect()
        await page.close()
        assert (welcome.identity.subject, welcome.identity.roles) == ("site:lib-kitee", ["booth"])

        store = open_store(redis_url)
        try:

            async def online() -> bool:
                states = {s.site: s for s in await fleet(store, load_directory(), time.time())}
                report = states["lib-kitee"].report
                return states["lib-kitee"].status == "device_problem" and report is not None

            # No page has sent a heartbeat: the kiosk is "starting", a device problem.
            await eventually(online, timeout=15, message="the booth's health reached the server")
            async with http.post(url + "api/alive") as response:
                assert response.status == 204

            async def running() -> bool:
                states = {s.site: s for s in await fleet(store, load_directory(), time.time())}
                return states["lib-kitee"].status == "online"

            await eventually(running, timeout=15, message="the kiosk reported running")
            reports = await store.booth_health()
            report = reports["lib-kitee"]
            assert report["rtt_ms"] is not None and report["rtt_ms"] < 1000
            assert report["loss_pct"] == 0.0 and 0 <= report["disk_free_pct"] <= 100
            async with http.get(url + "api/health") as response:
                assert (await response.json())["kiosk"] == "running"
        finally:
            await store.close()


@pytest.mark.redis
async def test_resume_token_and_privacy_reset(
    redis_node: ServeProcess, http: aiohttp.ClientSession
) -> None:
    async with booth_agent(redis_node.base_url) as url:
        async with http.put(url + "api/resume", json={"resume_token": "r" * 40}) as response:
            assert response.status == 204
        async with http.get(url + "api/kiosk") as response:
            assert (await response.json())["resume_token"] == "r" * 40
        for bad in ({"resume_token": 5}, {"token": "x"}, ["x"], {"resume_token": ""}):
            async with http.put(url + "api/resume", json=bad) as response:
                assert response.status == 400
                assert (await response.json())["error"]["code"] in ("invalid_field", "bad_json")
        async with http.get(url + "api/kiosk") as response:
            assert (await response.json())["resume_token"] == "r" * 40, "bad input changed it"
        async with http.post(url + "api/reset") as response:
            assert response.status == 204
        async with http.get(url + "api/kiosk") as response:
            assert (await response.json())["resume_token"] is None


@pytest.mark.redis
async def test_only_this_machine_and_its_own_page_are_served(
    redis_node: ServeProcess, http: aiohttp.ClientSession
) -> None:
    async with booth_agent(redis_node.base_url) as url:
        port = url.rsplit(":", 1)[1].strip("/")
        rebinding = {"Host": f"attacker.example:{port}"}
        async with http.get(url + "api/kiosk", headers=rebinding) as response:
            assert response.status == 403
        other_origin = {"Origin": "http://attacker.example"}
        async with http.post(url + "api/reset", headers=other_origin) as response:
            assert response.status == 403
        async with http.get(url) as response:
            policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert f"connect-src 'self' {redis_node.ws_url.removesuffix('/ws')}" in policy


async def test_unreachable_server_gives_the_page_a_plain_503(http: aiohttp.ClientSession) -> None:
    async with booth_agent("http://127.0.0.1:9") as url:  # nothing listens on the discard port
        async with http.get(url + "api/kiosk") as response:
            assert response.status == 503
            assert (await response.json())["error"]["code"] == "unavailable"


# --- the kiosk browser supervisor ----------------------------------------------------


async def test_a_browser_that_never_loads_the_page_is_started_again(tmp_path: Path) -> None:
    # A stand-in for Chromium that starts and then shows nothing: a hung browser.
    fake = tmp_path / "hung-browser"
    fake.write_text("#!/bin/sh\nexec sleep 600\n")
    fake.chmod(0o755)
    browser = KioskBrowser(str(fake), "http://127.0.0.1:1/", PageHeartbeat(), startup_grace_s=0.5)
    browser.start()
    try:
        await eventually(lambda: browser.launches >= 2, timeout=10, message="relaunched")
    finally:
        await browser.close()
    assert browser.state == "down" and browser.pid is None


@asynccontextmanager
async def beating_page(heartbeat: PageHeartbeat, script: str) -> AsyncIterator[str]:
    """Serve a page that runs ``script`` (which beats on POST /alive); yield its URL."""

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=f"<script>{script}</script>", content_type="text/html")

    async def alive(request: web.Request) -> web.Response:
        heartbeat.beat()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_post("/alive", alive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        await runner.cleanup()


BEAT = "setInterval(() => fetch('/alive', {method: 'POST'}), 200);"


@pytest.mark.browser
async def test_real_chromium_is_relaunched_after_a_crash(tmp_path: Path) -> None:
    assert os.path.exists(CHROMIUM), "Chromium is needed: scripts/install-system-deps"
    heartbeat = PageHeartbeat()
    profiles_before = set(Path(tempfile.gettempdir()).glob("etapiste-kiosk-*"))
    async with beating_page(heartbeat, BEAT) as url:
        browser = KioskBrowser(CHROMIUM, url, heartbeat, headless=True)
        browser.start()
        try:
            await eventually(lambda: browser.state == "running", timeout=30, message="loaded")
            first = browser.pid
            assert first is not None
            os.killpg(first, signal.SIGKILL)  # the browser crashes
            await eventually(
                lambda: browser.launches == 2 and browser.pid not in (None, first),
                timeout=20,
                message="relaunched after the crash",
            )
            assert browser.last_stop == "exited with code -9"
            beats = heartbeat.last
            await eventually(
                lambda: heartbeat.last != beats and browser.state == "running",
                timeout=30,
                message="the relaunched browser shows the page again",
            )
        finally:
            await browser.close()
    assert browser.pid is None
    profiles_after = set(Path(tempfile.gettempdir()).glob("etapiste-kiosk-*"))
    assert profiles_after <= profiles_before, "a browser profile stayed on disk"


@pytest.mark.browser
async def test_real_chromium_whose_page_hangs_is_relaunched() -> None:
    heartbeat = PageHeartbeat()
    # The page beats for a second, then its script never returns: a hung renderer.
    hang = BEAT + "setTimeout(() => { for (;;) {} }, 1000);"
    async with beating_page(heartbeat, hang) as url:
        browser = KioskBrowser(CHROMIUM, url, heartbeat, headless=True, hang_after_s=3)
        browser.start()
        try:
            await eventually(lambda: browser.state == "running", timeout=30, message="loaded")
            first = browser.pid
            await eventually(
                lambda: browser.launches >= 2 and browser.pid not in (None, first),
                timeout=30,
                message="relaunched after the page stopped beating",
            )
            assert browser.last_stop is not None and browser.last_stop.startswith("hangs")
        finally:
            await browser.close()


def test_doccam_fake_from_the_command_line_keeps_the_file_s_doccam_settings(
    tmp_path: Path,
) -> None:
    page = tmp_path / "page.png"
    page.write_bytes(b"not read here")
    booth_toml = tmp_path / "booth.toml"
    booth_toml.write_text('site = "lib-kitee"\nsecret = "s"\n[doccam]\nfps = 4\n')
    config = load_config(booth_toml, {"doccam": {"fake": page}})
    assert (config.doccam.fake, config.doccam.fps) == (page, 4)
    with pytest.raises(BoothConfigError, match="doccam.fake"):
        load_config(booth_toml, {"doccam": {"fake": tmp_path / "missing.png"}})


@pytest.mark.redis
async def test_the_call_route_refuses_bad_input_and_the_doccam_is_off_without_a_call(
    redis_node: ServeProcess, http: aiohttp.ClientSession
) -> None:
    async with booth_agent(redis_node.base_url) as url:
        for bad in ({"session_id": "x"}, {"session": None}, ["s"], {"session_id": 5}):
            async with http.put(url + "api/call", json=bad) as response:
                assert response.status == 400
                error = (await response.json())["error"]
                assert (error["code"], error["field"]) == ("invalid_field", "session_id")
        async with http.put(url + "api/call", data=b"{") as response:
            assert response.status == 400
            assert (await response.json())["error"]["code"] == "bad_json"
        async with http.get(url + "api/doccam") as response:
            assert response.status == 200
            status = await response.json()
            assert status["state"] == "off" and status["last_still"] is None
        async with http.get(url + "api/doccam/preview") as response:
            assert response.status == 404
            assert (await response.json())["error"]["code"] == "not_found"
        # No document camera at this booth: a call changes nothing.
        async with http.put(url + "api/call", json={"session_id": "s-" + "a" * 32}) as response:
            assert response.status == 204
        async with http.get(url + "api/doccam") as response:
            assert (await response.json())["state"] == "off"
