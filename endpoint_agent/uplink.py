"""The agent's own link to the server: device tokens, and a health report every few seconds."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from signaling.client import SignalingClient, SignalingError
from signaling.protocol import BoothHealth, DeviceTest
from signaling.tasks import cancel_and_wait

from .config import BoothConfig

log = logging.getLogger(__name__)

PING_TIMEOUT_S = 2.0
RECONNECT_BACKOFF_S = (1.0, 2.0, 5.0, 10.0)
# A kiosk token is minted again once less than this share of its life is left.
RENEW_AT_LIFE_LEFT = 0.5


class ServerRefused(Exception):
    """The server refused the device secret or the request (not a network fault)."""


class DeviceTokens:
    """Short-lived device tokens for the kiosk page and the agent, minted from the secret."""

    def __init__(self, config: BoothConfig, http: aiohttp.ClientSession) -> None:
        self._config = config
        self._secret = config.device_secret()
        self._http = http
        self._cached: dict[str, tuple[str, float, float]] = {}
        self.site_info: dict[str, Any] | None = None

    async def token(self, role: str) -> tuple[str, float]:
        """Return a token for ``kiosk`` or ``agent`` and when it expires (epoch seconds)."""
        cached = self._cached.get(role)
        now = time.time()
        if cached is not None:
            token, issued, expires = cached
            if now < expires - (expires - issued) * RENEW_AT_LIFE_LEFT:
                return token, expires
        body = {"site": self._config.site, "secret": self._secret, "role": role}
        async with self._http.post(
            self._config.server_base + "/auth/device",
            json=body,
            timeout=aiohttp.ClientTimeout(total=10),
        ) as response:
            data = await response.json(content_type=None)
            if response.status != 200:
                message = data.get("error", {}).get("message", response.reason)
                raise ServerRefused(f"{response.status}: {message}")
        self.site_info = data.get("site_info")
        self._cached[role] = (data["token"], now, float(data["expires_at"]))
        return data["token"], float(data["expires_at"])


class Uplink:
    """Keeps the agent connected and reports the booth's health on every interval."""

    def __init__(
        self,
        config: BoothConfig,
        tokens: DeviceTokens,
        record_ping: Callable[[float | None], None],
        report: Callable[[], BoothHealth],
    ) -> None:
        self._config = config
        self._tokens = tokens
        self._record_ping = record_ping
        self._report = report
        self.last_report: BoothHealth | None = None
        self.connected = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start reporting in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="booth-uplink")

    async def close(self) -> None:
        """Stop reporting; idempotent."""
        if self._task is not None:
            await cancel_and_wait([self._task])
            self._task = None

    async def _run(self) -> None:
        failures = 0
        while True:
            client: SignalingClient | None = None
            try:
                token, _ = await self._tokens.token("agent")
                client = SignalingClient(self._config.websocket_url, token)
                await client.connect()
                self.connected = True
                failures = 0
                await self._report_until_lost(client)
            except (
                OSError,
                aiohttp.ClientError,
                TimeoutError,
                ServerRefused,
                SignalingError,
            ) as exc:
                log.warning("health link to %s failed: %s", self._config.server_base, exc)
                self._record_ping(None)  # the server could not be reached: a lost ping
            finally:
                self.connected = False
                if client is not None:
                    await client.close()
            await asyncio.sleep(RECONNECT_BACKOFF_S[min(failures, len(RECONNECT_BACKOFF_S) - 1)])
            failures += 1

    async def _report_until_lost(self, client: SignalingClient) -> None:
        test_id: str | None = None
        while not client.disconnected.is_set():
            rtt: float | None = None
            started = time.perf_counter()
            try:
                await client.request({"type": "ping"}, timeout=PING_TIMEOUT_S)
                rtt = round((time.perf_counter() - started) * 1000.0, 1)
            except TimeoutError:
                pass
            self._record_ping(rtt)
            # Reading /sys and /proc is quick, but it is file I/O: keep it off the loop.
            report = await asyncio.to_thread(self._report)
            if test_id is not None:
                report = report.model_copy(update={"test_id": test_id})
            message = report.model_dump(mode="json", exclude_none=True)
            await client.request({**message, "id": "health"}, timeout=PING_TIMEOUT_S * 2)
            self.last_report = report
            test_id = await self._until_next_report(client)
        raise ConnectionError("the server closed the health link")

    async def _until_next_report(self, client: SignalingClient) -> str | None:
        """Wait for the next report's time, or for a supervisor's device test (its id)."""
        try:
            test = await client.wait_for(DeviceTest, timeout=self._config.health_interval_s)
        except TimeoutError:
            return None
        log.info("device test %s asked by a supervisor", test.test_id)
        return test.test_id
