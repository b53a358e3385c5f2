"""The endpoint agent: one booth's tokens, health reports, kiosk browser and resume state."""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import aiohttp

from document_camera.sources import CaptureSettings
from signaling.protocol import BoothDevices, BoothHealth

from .config import BoothConfig
from .doccam import DoccamService
from .health import (
    CpuMeter,
    DeviceState,
    NetworkMeter,
    audio_states,
    camera_paths,
    camera_states,
    disk_free_pct,
    video_devices,
)
from .kiosk_browser import KioskBrowser, KioskState, PageHeartbeat
from .uplink import DeviceTokens, Uplink

log = logging.getLogger(__name__)


def software_version() -> str:
    """The installed Etäpiste version."""
    try:
        return version("etapiste")
    except PackageNotFoundError:
        return "dev"


class BoothAgent:
    """Everything the agent does for its booth, started and closed as one."""

    def __init__(self, config: BoothConfig) -> None:
        self.config = config
        self.heartbeat = PageHeartbeat()
        # The page's resume token, in memory only: a reloaded page rejoins its call, and
        # the privacy reset forgets it.
        self.resume_token: str | None = None
        self.version = software_version()
        self._cpu = CpuMeter()
        self._network = NetworkMeter()
        self._http: aiohttp.ClientSession | None = None
        self._tokens: DeviceTokens | None = None
        self.browser: KioskBrowser | None = None
        self.uplink: Uplink | None = None
        self.doccam: DoccamService | None = None

    async def start(self, kiosk_url: str) -> None:
        """Connect to the server, start reporting and open the kiosk page."""
        self._http = aiohttp.ClientSession()
        self._tokens = DeviceTokens(self.config, self._http)
        self.uplink = Uplink(self.config, self._tokens, self._network.record, self.health_report)
        self.uplink.start()
        self.doccam = DoccamService(
            self.doccam_settings(), self.config.websocket_url, self._doccam_token
        )
        if self.config.kiosk_browser:
            self.browser = KioskBrowser(
                self.config.chromium,
                kiosk_url,
                self.heartbeat,
                fake_devices=self.config.fake_devices,
                headless=self.config.kiosk_headless,
            )
            self.browser.start()

    async def close(self) -> None:
        """Close the browser, the document camera, the health link and the HTTP session."""
        if self.browser is not None:
            await self.browser.close()
        if self.doccam is not None:
            await self.doccam.close()
        if self.uplink is not None:
            await self.uplink.close()
        if self._http is not None:
            await self._http.close()
            self._http = None

    @property
    def kiosk_state(self) -> KioskState:
        """The kiosk browser's state (the page's, when no browser is supervised)."""
        return self.browser.state if self.browser is not None else self.heartbeat.state()

    async def kiosk_settings(self) -> dict[str, Any]:
        """What the page needs to start: where it is, the server, a fresh token."""
        assert self._tokens is not None, "the agent is not started"
        token, expires = await self._tokens.token("kiosk")
        return {
            "site": self._tokens.site_info,
            "server_url": self.config.websocket_url,
            "token": token,
            "expires_at": expires,
            "resume_token": self.resume_token,
            "inactivity_s": self.config.inactivity_s,
            "fake_devices": self.config.fake_devices,
            "version": self.version,
        }

    def doccam_settings(self) -> CaptureSettings | None:
        """Return how to capture the document camera, or None when the booth has none."""
        doccam = self.config.doccam
        if doccam.fake is not None or doccam.device is not None:
            return doccam.capture_settings()
        if self.config.fake_devices or self.config.devices.document_camera == "none":
            return None
        _, document = camera_paths(self.config.devices, video_devices())
        return doccam.capture_settings(str(document)) if document is not None else None

    async def _doccam_token(self) -> str:
        assert self._tokens is not None, "the agent is not started"
        token, _ = await self._tokens.token("doccam")
        return token

    async def set_call(self, session_id: str | None) -> None:
        """Follow the kiosk's call: the document camera joins it, or leaves and forgets."""
        if self.doccam is not None:
            await self.doccam.set_call(session_id)

    async def privacy_reset(self) -> None:
        """Forget everything of the citizen who just left (the page reloads itself)."""
        self.resume_token = None
        await self.set_call(None)  # the document camera's frames and stills go with it
        log.info("privacy reset")

    def devices(self) -> BoothDevices:
        """Look for the booth's peripherals."""
        if self.config.fake_devices:
            # The kiosk's Chromium makes up a camera and a microphone; nothing to look for.
            return BoothDevices(
                camera="ok", microphone="ok", speaker="ok", document_camera=self._doccam_state()
            )
        camera, document = camera_states(self.config.devices, video_devices())
        if self.config.doccam.fake is not None or self._doccam_running():
            document = self._doccam_state()
        microphone, speaker = audio_states()
        return BoothDevices(
            camera=camera, microphone=microphone, speaker=speaker, document_camera=document
        )

    def _doccam_running(self) -> bool:
        return self.doccam is not None and self.doccam.camera is not None

    def _doccam_state(self) -> DeviceState:
        """The document camera's state: its capture's while on, else whether it is there."""
        if self.doccam is not None and self.doccam.camera is not None:
            return self.doccam.camera.status.device_state
        fake = self.config.doccam.fake
        if fake is not None:
            return "ok" if fake.exists() else "missing"
        # Made-up devices are all reported present, as before the document camera was used.
        return "ok" if self.config.fake_devices else "missing"

    def health_report(self) -> BoothHealth:
        """Build the health report the server keeps for the operators' fleet view."""
        return BoothHealth(
            type="booth_health",
            id="health",
            devices=self.devices(),
            rtt_ms=self._network.rtt_ms,
            loss_pct=self._network.loss_pct,
            cpu_pct=self._cpu.percent(),
            disk_free_pct=disk_free_pct(),
            kiosk=self.kiosk_state,
            software_version=self.version[:40],
        )


__all__ = ["BoothAgent"]
