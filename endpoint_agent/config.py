"""The booth's configuration: booth.toml, overridden by command-line options."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from signaling.directory import load_directory

if TYPE_CHECKING:
    from document_camera.sources import CaptureSettings

DEFAULT_SERVER = "http://127.0.0.1:8080"


class BoothConfigError(Exception):
    """The booth configuration is missing, malformed or incomplete."""


class DeviceSettings(BaseModel):
    """Which devices to look for: "auto", a /dev path, or "none"."""

    model_config = ConfigDict(extra="forbid")

    camera: str = "auto"
    document_camera: str = "auto"


class DoccamSettings(BaseModel):
    """How to capture from the document camera ([doccam]); unset means the camera's own."""

    model_config = ConfigDict(extra="forbid")

    # An index (/dev/videoN) or a device path; unset: the document camera of [devices].
    device: int | str | None = None
    width: int = Field(default=0, ge=0, le=16384)  # 0 and 0: the largest the camera gives
    height: int = Field(default=0, ge=0, le=16384, validate_default=True)
    fps: float = Field(default=15.0, gt=0, le=120)
    autofocus: bool | None = None
    focus: int | None = Field(default=None, ge=0)
    auto_exposure: bool | None = None
    exposure: float | None = Field(default=None, gt=0)
    fake: Path | None = None  # an image, a folder of images or a video instead of the camera

    @field_validator("device")
    @classmethod
    def _device(cls, value: int | str | None) -> int | str | None:
        if isinstance(value, int) and value < 0:
            raise ValueError(f"a camera index is 0 or more, not {value}")
        if isinstance(value, str) and not value.startswith("/"):
            raise ValueError(
                f"give a camera index (0) or a device path (/dev/video0), not {value!r}"
            )
        return value

    @field_validator("height")
    @classmethod
    def _size_together(cls, height: int, info: ValidationInfo) -> int:
        width = info.data.get("width", 0)
        if (width == 0) != (height == 0):
            raise ValueError(f"give width and height together (width = {width}, height = {height})")
        return height

    @field_validator("focus")
    @classmethod
    def _focus_is_manual(cls, focus: int | None, info: ValidationInfo) -> int | None:
        if focus is not None and info.data.get("autofocus") is True:
            raise ValueError("a focus value needs autofocus = false")
        return focus

    @field_validator("exposure")
    @classmethod
    def _exposure_is_manual(cls, exposure: float | None, info: ValidationInfo) -> float | None:
        if exposure is not None and info.data.get("auto_exposure") is True:
            raise ValueError("an exposure value needs auto_exposure = false")
        return exposure

    @field_validator("fake")
    @classmethod
    def _fake_exists(cls, fake: Path | None) -> Path | None:
        if fake is not None and not fake.exists():
            raise ValueError(f"no such file or folder: {fake}")
        return fake

    def capture_settings(self, device: int | str = 0) -> CaptureSettings:
        """Return the settings for document_camera; ``device`` when [doccam] names none."""
        from document_camera.sources import CaptureSettings  # OpenCV only when capturing

        return CaptureSettings(
            device=self.device if self.device is not None else device,
            width=self.width,
            height=self.height,
            fps=self.fps,
            autofocus=False if self.focus is not None else self.autofocus,
            focus=self.focus,
            auto_exposure=False if self.exposure is not None else self.auto_exposure,
            exposure=self.exposure,
            fake=self.fake,
        )


class BoothConfig(BaseModel):
    """Everything the endpoint agent needs to know about its booth."""

    model_config = ConfigDict(extra="forbid")

    site: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    secret: SecretStr | None = None
    secret_file: Path | None = None
    server: str = Field(default=DEFAULT_SERVER, pattern=r"^https?://[^\s/]+(/.*)?$")
    port: int = Field(default=8765, ge=0, le=65535)
    kiosk_browser: bool = True
    chromium: str = "/usr/bin/chromium"
    kiosk_headless: bool = False  # for tests and machines without a screen
    fake_devices: bool = False
    inactivity_s: int = Field(default=90, ge=15, le=3600)
    health_interval_s: float = Field(default=5.0, gt=0, le=60)
    devices: DeviceSettings = DeviceSettings()
    doccam: DoccamSettings = DoccamSettings()

    @model_validator(mode="after")
    def _one_secret(self) -> BoothConfig:
        if self.secret is not None and self.secret_file is not None:
            raise ValueError("give secret or secret_file, not both")
        return self

    @property
    def server_base(self) -> str:
        """The server's base URL without a trailing slash."""
        return self.server.rstrip("/")

    @property
    def websocket_url(self) -> str:
        """The server's signaling WebSocket URL."""
        return "ws" + self.server_base.removeprefix("http") + "/ws"

    def device_secret(self) -> str:
        """Return the site's device secret: given, from its file, or the demo default."""
        if self.secret is not None:
            return self.secret.get_secret_value()
        if self.secret_file is not None:
            try:
                return self.secret_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise BoothConfigError(f"secret_file {self.secret_file}: {exc.strerror}") from None
        # With neither, the demo directory's secret for the site: a demo booth needs only
        # --site.
        site = load_directory().site(self.site)
        if site is None:
            raise BoothConfigError(
                f"no secret for site {self.site!r}: set secret_file in booth.toml or --secret"
            )
        return site.device_secret.get_secret_value()


def load_config(path: Path | None, overrides: dict[str, Any]) -> BoothConfig:
    """Read booth.toml (when given) and apply command-line overrides over it."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            with path.open("rb") as f:
                data = tomllib.load(f)
        except OSError as exc:
            raise BoothConfigError(f"{path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise BoothConfigError(f"{path}: not valid TOML: {exc}") from None
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}  # a section: the command line wins per key
        elif value is not None:
            data[key] = value
    if "secret" in overrides and overrides["secret"] is not None:
        data.pop("secret_file", None)  # the command line wins over the file
    try:
        return BoothConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "booth.toml"
        raise BoothConfigError(f"{where}: {first['msg']}") from None
