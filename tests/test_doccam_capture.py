"""Document camera capture: fake sources, the latest-frame thread, errors and recovery.

No UVC camera (and no v4l2loopback) is available where these run: the real camera path is
tested for its errors (a missing node, a node that will not open); with a camera, an
installer runs `etapiste doccam probe /dev/videoN` (docs/operations.md). Hot-plug is tested
through an injected source that fails and then works, which is what the capture thread
sees when a camera is unplugged and plugged in again.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
import threading
import weakref
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from document_camera.capture import (
    THREAD_NAME,
    CaptureClosedError,
    CaptureStatus,
    DocumentCamera,
    retry_delay,
)
from document_camera.sources import (
    CaptureError,
    CaptureSettings,
    ErrorCode,
    FrameSource,
    Image,
    SourceInfo,
    UvcCamera,
    holders,
)
from endpoint_agent.config import BoothConfigError, load_config

from .support import eventually

FAST = (0.01, 0.02)  # retry delays for tests: the logic, not the waiting


def write_image(path: Path, width: int, height: int, bgr: tuple[int, int, int]) -> Path:
    image = np.zeros((height, width, 3), np.uint8)
    image[:] = bgr
    assert cv2.imwrite(str(path), image)
    return path


def latest_seq(camera: DocumentCamera) -> int:
    frame = camera.latest()
    return 0 if frame is None else frame.seq


def capture_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD_NAME]


class ScriptedSource:
    """A source for tests: fresh frames, optionally one per opening of a gate, and faults."""

    def __init__(
        self,
        *,
        gate: threading.Event | None = None,
        fail_after: int | None = None,
        fail_code: ErrorCode = "doccam_missing",
        interval: float | None = 0.002,
        size: tuple[int, int] = (64, 48),
    ) -> None:
        self.interval = interval
        self.gate = gate
        self.abandon = threading.Event()
        self.fail_after = fail_after
        self.fail_code: ErrorCode = fail_code
        self.size = size
        self.made: list[weakref.ref[Image]] = []
        self.closed = False

    def open(self) -> SourceInfo:
        return SourceInfo("scripted", self.size[0], self.size[1], 1 / (self.interval or 1))

    def read(self) -> Image:
        if self.fail_after is not None and len(self.made) >= self.fail_after:
            raise CaptureError(self.fail_code, "scripted fault")
        if self.gate is not None:
            while not self.gate.wait(0.01):  # a blocking read, like a camera's
                if self.abandon.is_set():
                    raise CaptureError("doccam_stalled", "abandoned by the test")
            self.gate.clear()
        image = np.full((self.size[1], self.size[0], 3), len(self.made) % 256, np.uint8)
        self.made.append(weakref.ref(image))
        return image

    def close(self) -> None:
        self.closed = True


class Plug:
    """A source factory: the camera is missing for ``missing`` attempts, then there."""

    def __init__(self, missing: int, make: Callable[[], ScriptedSource]) -> None:
        self.missing = missing
        self.make = make
        self.attempts = 0
        self.sources: list[ScriptedSource] = []

    def __call__(self, settings: CaptureSettings) -> FrameSource:
        self.attempts += 1
        if self.attempts <= self.missing:
            raise CaptureError("doccam_missing", "no document camera at /dev/video2")
        source = self.make()
        self.sources.append(source)
        return source


# --- fake sources ----------------------------------------------------------------------


async def test_a_still_image_gives_frames_of_its_own_size(tmp_path: Path) -> None:
    page = write_image(tmp_path / "page.png", 640, 480, (200, 210, 220))
    statuses: list[CaptureStatus] = []
    threads: list[threading.Thread] = []

    def listen(status: CaptureStatus) -> None:
        statuses.append(status)
        threads.append(threading.current_thread())

    async with DocumentCamera(CaptureSettings(fake=page, fps=100), on_status=listen) as camera:
        assert camera.status.state == "running"
        assert camera.status.source is not None
        assert (camera.status.source.width, camera.status.source.height) == (640, 480)
        first = await camera.next_frame(0, timeout=10)
        second = await camera.next_frame(first.seq, timeout=10)
    assert first.image.shape == second.image.shape == (480, 640, 3)
    assert first.image[0, 0].tolist() == [200, 210, 220]
    assert second.seq > first.seq and second.timestamp >= first.timestamp
    assert not first.image.flags.writeable  # shared between threads: read-only
    assert [s.state for s in statuses] == ["running", "closed"]
    assert threads == [threading.main_thread()] * 2  # the listener runs on the loop


async def test_a_folder_is_cycled_in_name_order_each_image_at_its_size(tmp_path: Path) -> None:
    folder = tmp_path / "pages"
    folder.mkdir()
    images = [
        ((240, 320, 3), (0, 0, 255)),
        ((300, 400, 3), (0, 255, 0)),
        ((100, 200, 3), (255, 0, 0)),
    ]
    for name, ((h, w, _), bgr) in zip(("a.png", "b.jpg", "c.png"), images, strict=True):
        write_image(folder / name, w, h, bgr)
    (folder / "notes.txt").write_text("not an image")
    seen: set[int] = set()
    async with DocumentCamera(CaptureSettings(fake=folder, fps=100)) as camera:
        assert camera.status.source is not None
        assert "3 images" in camera.status.source.description
        seq = 0
        while len(seen) < 3:
            frame = await camera.next_frame(seq, timeout=10)
            seq = frame.seq
            index = (frame.seq - 1) % 3  # frame n is image (n - 1) mod 3
            shape, bgr = images[index]
            assert frame.image.shape == shape
            assert np.abs(frame.image[5, 5].astype(int) - bgr).max() <= 3  # JPEG is close
            seen.add(index)


async def test_a_video_loops_at_its_own_size(tmp_path: Path) -> None:
    video = tmp_path / "hands.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 10, (320, 240))
    assert writer.isOpened()
    for i in range(5):
        writer.write(np.full((240, 320, 3), 40 * i + 20, np.uint8))
    writer.release()
    async with DocumentCamera(CaptureSettings(fake=video, fps=100)) as camera:
        frame = await camera.next_frame(0, timeout=10)
        while frame.seq <= 12:  # more than twice round the five frames
            assert frame.image.shape == (240, 320, 3)
            expected = 40 * ((frame.seq - 1) % 5) + 20
            assert abs(float(frame.image.mean()) - expected) < 6
            frame = await camera.next_frame(frame.seq, timeout=10)


def test_the_fake_is_chosen_by_what_the_path_is(tmp_path: Path) -> None:
    from document_camera.sources import ImageFolder, StillImage, VideoFile, source_for

    assert isinstance(source_for(CaptureSettings(fake=tmp_path)), ImageFolder)
    assert isinstance(source_for(CaptureSettings(fake=tmp_path / "p.JPG")), StillImage)
    assert isinstance(source_for(CaptureSettings(fake=tmp_path / "v.mp4")), VideoFile)
    assert isinstance(source_for(CaptureSettings(device=2)), UvcCamera)


@pytest.mark.parametrize(
    ("name", "message"),
    [("absent.png", "no such file"), ("broken.png", "not an image"), ("empty", "no readable")],
)
async def test_a_bad_fake_is_missing_with_the_reason(
    tmp_path: Path, name: str, message: str
) -> None:
    (tmp_path / "broken.png").write_text("not a png")
    (tmp_path / "empty").mkdir()
    camera = DocumentCamera(CaptureSettings(fake=tmp_path / name), retry_delays=FAST)
    status = await camera.start()
    await camera.close()
    assert (status.state, status.code) == ("error", "doccam_missing")
    assert message in status.message and name in status.message


# --- the latest frame only, wake-ups, closing ------------------------------------------


async def test_a_slow_consumer_sees_gaps_and_memory_stays_at_one_frame() -> None:
    source = ScriptedSource()
    async with DocumentCamera(CaptureSettings(), source_for=lambda _: source) as camera:
        first = (await camera.next_frame(0, timeout=10)).seq
        # The consumer is busy while the source goes on (no sleep: wait for the source).
        await eventually(lambda: latest_seq(camera) >= first + 3)
        later = (await camera.next_frame(first, timeout=10)).seq
        assert later >= first + 3  # the frames in between were dropped, not queued
        await eventually(lambda: len(source.made) >= 200)
        gc.collect()
        alive = sum(ref() is not None for ref in source.made)
        assert alive <= 2  # the latest, and at most the one the thread holds


async def test_next_frame_wakes_on_a_new_frame_and_times_out_without() -> None:
    gate = threading.Event()
    source = ScriptedSource(gate=gate, interval=None)
    camera = DocumentCamera(CaptureSettings(), source_for=lambda _: source)
    await camera.start()
    try:
        waiter = asyncio.create_task(camera.next_frame(0))
        for _ in range(5):
            await asyncio.sleep(0)
        assert not waiter.done() and camera.latest() is None
        gate.set()  # the camera delivers one frame
        frame = await asyncio.wait_for(waiter, 10)
        assert frame.seq == 1 and camera.latest() == frame
        with pytest.raises(TimeoutError):
            await camera.next_frame(frame.seq, timeout=0.05)
        assert await camera.next_frame(0, timeout=0) == frame  # already there: no wait
    finally:
        source.abandon.set()
        await camera.close()


async def test_the_loop_runs_while_the_thread_reads() -> None:
    # The read blocks until the loop has ticked: if reading ran on the loop, it would
    # never return and the test would time out.
    gate = threading.Event()
    source = ScriptedSource(gate=gate, interval=None)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            if ticks == 3:
                gate.set()
            await asyncio.sleep(0.001)

    async with DocumentCamera(CaptureSettings(), source_for=lambda _: source) as camera:
        tick_task = asyncio.create_task(ticker())
        try:
            frame = await camera.next_frame(0, timeout=10)
        finally:
            source.abandon.set()
            tick_task.cancel()
            await asyncio.gather(tick_task, return_exceptions=True)
    assert frame.seq == 1 and ticks >= 3


async def test_twelve_megapixel_frames_and_the_loop_keeps_ticking(tmp_path: Path) -> None:
    page = np.zeros((3000, 4000, 3), np.uint8)
    page[:, :, 0] = np.arange(4000, dtype=np.uint32)[None, :] % 256
    path = tmp_path / "page-12mp.jpg"
    assert cv2.imwrite(str(path), page)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.001)

    tick_task = asyncio.create_task(ticker())
    try:
        async with DocumentCamera(CaptureSettings(fake=path, fps=30)) as camera:
            frame = await camera.next_frame(0, timeout=20)
            marks = [ticks]
            for _ in range(5):
                frame = await camera.next_frame(frame.seq, timeout=20)
                assert frame.image.shape == (3000, 4000, 3)
                marks.append(ticks)
    finally:
        tick_task.cancel()
        await asyncio.gather(tick_task, return_exceptions=True)
    # The ticker ran between every two frames: waiting for a frame never held the loop.
    assert all(b > a for a, b in zip(marks, marks[1:], strict=False))


async def test_close_is_idempotent_and_leaves_no_thread(tmp_path: Path) -> None:
    page = write_image(tmp_path / "page.png", 64, 48, (1, 2, 3))
    statuses: list[CaptureStatus] = []
    camera = DocumentCamera(CaptureSettings(fake=page, fps=100), on_status=statuses.append)
    await camera.close()  # before start: fine
    camera = DocumentCamera(CaptureSettings(fake=page, fps=100), on_status=statuses.append)
    await camera.start()
    frame = await camera.next_frame(0, timeout=10)
    waiter = asyncio.create_task(camera.next_frame(10**9))
    await asyncio.sleep(0)
    await asyncio.gather(camera.close(), camera.close())
    await camera.close()
    with pytest.raises(CaptureClosedError):
        await waiter
    assert capture_threads() == []
    assert camera.latest() is None  # the page is gone with the camera
    assert camera.status.state == "closed" and frame.seq >= 1
    assert [s.state for s in statuses].count("closed") == 2  # once per camera
    with pytest.raises(CaptureClosedError):
        await camera.next_frame(0)
    with pytest.raises(CaptureClosedError):
        await camera.start()


async def test_close_is_bounded_when_the_thread_is_stuck_in_a_read() -> None:
    gate = threading.Event()
    source = ScriptedSource(gate=gate, interval=None)
    camera = DocumentCamera(CaptureSettings(), source_for=lambda _: source, join_timeout=0.05)
    await camera.start()
    await camera.close()  # returns although the read has not
    assert camera.status.state == "closed"
    gate.set()  # the driver's read returns at last: the thread ends and closes the source
    await eventually(lambda: capture_threads() == [] and source.closed)


# --- a missing or busy camera, stalls and recovery -------------------------------------


@pytest.mark.parametrize("device", ["/dev/video63", 63])
async def test_a_missing_camera_is_reported_and_retried(device: int | str) -> None:
    attempts = 0

    def counting(settings: CaptureSettings) -> FrameSource:
        nonlocal attempts
        attempts += 1
        return UvcCamera(settings)

    statuses: list[CaptureStatus] = []
    camera = DocumentCamera(
        CaptureSettings(device=device),
        source_for=counting,
        on_status=statuses.append,
        retry_delays=FAST,
    )
    status = await camera.start()
    try:
        assert (status.state, status.code, status.device_state) == (
            "error",
            "doccam_missing",
            "missing",
        )
        assert "no document camera at /dev/video63" in status.message
        assert status.as_dict()["code"] == "doccam_missing"
        await eventually(lambda: attempts >= 5)  # it keeps looking, without crashing
        assert [s.code for s in statuses] == ["doccam_missing"]  # told once, not per try
        assert camera.latest() is None
    finally:
        await camera.close()


async def test_a_node_that_will_not_open_as_a_camera_is_busy_not_missing() -> None:
    # /dev/null exists and may be opened, but it is no camera: what a camera held by
    # another program looks like to OpenCV. The holders are named where we may see them.
    camera = DocumentCamera(CaptureSettings(device="/dev/null"), retry_delays=FAST)
    status = await camera.start()
    await camera.close()
    assert (status.code, status.device_state) == ("doccam_busy", "error")
    assert status.message.startswith("/dev/null ")


def test_holders_names_the_processes_that_hold_a_node(tmp_path: Path) -> None:
    node = tmp_path / "video9"
    node.write_text("")
    with node.open():
        assert any(f"(pid {os.getpid()})" in h for h in holders(node))
    assert not any(f"(pid {os.getpid()})" in h for h in holders(node))


async def test_a_node_we_may_not_open_is_denied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = tmp_path / "video9"
    node.write_text("")
    node.chmod(0)
    if os.geteuid() == 0:  # root may open anything: make the check answer as for a user
        monkeypatch.setattr("document_camera.sources._may_open", lambda node: False)
    camera = DocumentCamera(CaptureSettings(device=str(node)), retry_delays=FAST)
    status = await camera.start()
    await camera.close()
    assert status.code == "doccam_denied" and "video group" in status.message


def test_the_retry_delay_grows_and_is_capped() -> None:
    assert [retry_delay(n) for n in range(1, 8)] == [0.5, 1.0, 2.0, 5.0, 10.0, 10.0, 10.0]
    with pytest.raises(ValueError, match="retry_delays must be positive"):
        DocumentCamera(CaptureSettings(), retry_delays=(0.0,))


async def test_capture_starts_by_itself_when_the_camera_appears() -> None:
    plug = Plug(missing=3, make=ScriptedSource)
    statuses: list[CaptureStatus] = []
    camera = DocumentCamera(
        CaptureSettings(), source_for=plug, on_status=statuses.append, retry_delays=FAST
    )
    status = await camera.start()
    try:
        assert status.code == "doccam_missing"
        frame = await camera.next_frame(0, timeout=10)
        assert frame.seq == 1 and plug.attempts == 4
        assert [(s.state, s.code) for s in statuses] == [
            ("error", "doccam_missing"),
            ("running", None),
        ]
    finally:
        await camera.close()


async def test_unplugged_mid_stream_then_back_capture_resumes() -> None:
    plug = Plug(missing=0, make=lambda: ScriptedSource(fail_after=5))
    statuses: list[CaptureStatus] = []
    camera = DocumentCamera(
        CaptureSettings(), source_for=plug, on_status=statuses.append, retry_delays=FAST
    )
    await camera.start()
    try:
        # Each source gives five frames and is then unplugged; the next opening works.
        await eventually(lambda: latest_seq(camera) > 12)
        assert len(plug.sources) >= 3 and all(s.closed for s in plug.sources[:-1])
        states = [(s.state, s.code) for s in statuses]
        assert states[:3] == [("running", None), ("error", "doccam_missing"), ("running", None)]
    finally:
        await camera.close()


async def test_a_stall_is_reported_and_cleared_when_frames_come_back() -> None:
    gate = threading.Event()
    source = ScriptedSource(gate=gate, interval=None)
    camera = DocumentCamera(CaptureSettings(), source_for=lambda _: source, stall_after=0.1)
    await camera.start()
    try:
        gate.set()
        frame = await camera.next_frame(0, timeout=10)
        await eventually(lambda: camera.status.code == "doccam_stalled")
        assert camera.status.source is not None and "no frame" in camera.status.message
        gate.set()
        await camera.next_frame(frame.seq, timeout=10)
        await eventually(lambda: camera.status.state == "running")
    finally:
        source.abandon.set()
        await camera.close()


async def test_a_read_that_fails_is_stalled_and_the_camera_reopened() -> None:
    plug = Plug(missing=0, make=lambda: ScriptedSource(fail_after=2, fail_code="doccam_stalled"))
    statuses: list[CaptureStatus] = []
    camera = DocumentCamera(
        CaptureSettings(), source_for=plug, on_status=statuses.append, retry_delays=FAST
    )
    await camera.start()
    try:
        await eventually(lambda: len(plug.sources) >= 2)
        assert ("error", "doccam_stalled") in [(s.state, s.code) for s in statuses]
    finally:
        await camera.close()


def probe_command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "etapiste", "doccam", "probe", "--seconds", "1", *args],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_probe_reports_what_a_source_gives(tmp_path: Path) -> None:
    # The real UVC path needs a camera, which this machine lacks: installers run
    # `etapiste doccam probe /dev/videoN` at the booth (docs/operations.md). Here the same
    # command runs on a fake source, through the same DocumentCamera.
    image = tmp_path / "page.png"
    cv2.imwrite(str(image), np.full((480, 640, 3), 200, np.uint8))
    done = probe_command("--fake", str(image), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["state"] == "running" and report["frames"] >= 5
    assert report["frame_size"] == [640, 480] and report["measured_fps"] > 3


def test_probe_says_plainly_why_a_camera_gives_nothing(tmp_path: Path) -> None:
    missing = probe_command(str(tmp_path / "video9"), "--json")
    assert missing.returncode == 3
    assert json.loads(missing.stdout)["code"] == "doccam_missing"
    busy = probe_command("/dev/null")
    assert busy.returncode == 3 and "doccam_busy" in busy.stderr
    for bad in ((), ("/dev/video0", "--seconds", "0"), ("/dev/video0", "--width", "640")):
        refused = subprocess.run(
            [sys.executable, "-m", "etapiste", "doccam", "probe", *bad],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert refused.returncode == 2 and refused.stderr.startswith("etapiste doccam probe:")


# --- [doccam] in booth.toml ------------------------------------------------------------


def test_doccam_config_good_values(tmp_path: Path) -> None:
    booth_toml = tmp_path / "booth.toml"
    booth_toml.write_text(
        'site = "lib-kitee"\n[doccam]\ndevice = "/dev/v4l/by-id/usb-doc-cam-video-index0"\n'
        "width = 4208\nheight = 3120\nfps = 10\nautofocus = false\nfocus = 250\n"
        "auto_exposure = true\n"
    )
    doccam = load_config(booth_toml, {}).doccam
    settings = doccam.capture_settings()
    assert settings == CaptureSettings(
        device="/dev/v4l/by-id/usb-doc-cam-video-index0",
        width=4208,
        height=3120,
        fps=10.0,
        autofocus=False,
        focus=250,
        auto_exposure=True,
    )
    defaults = load_config(None, {"site": "lib-kitee"}).doccam
    assert defaults.capture_settings("/dev/video2") == CaptureSettings(device="/dev/video2")
    page = write_image(tmp_path / "page.png", 8, 8, (0, 0, 0))
    booth_toml.write_text(
        f'site = "lib-kitee"\n[doccam]\ndevice = 2\nfake = "{page}"\nexposure = 300\n'
    )
    settings = load_config(booth_toml, {}).doccam.capture_settings()
    assert (settings.device, settings.fake, settings.exposure) == (2, page, 300.0)
    assert settings.auto_exposure is False  # an exposure value means manual exposure


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("zoom = 2\n", "doccam.zoom: Extra inputs are not permitted"),
        ('device = "video0"\n', "doccam.device: .*give a camera index"),
        ("device = -1\n", "doccam.device: .*0 or more"),
        ("width = 3840\n", "doccam.height: .*give width and height together"),
        ("width = 99999\nheight = 2160\n", "doccam.width: Input should be less than"),
        ("fps = 0\n", "doccam.fps: Input should be greater than 0"),
        ('autofocus = "sometimes"\n', "doccam.autofocus: Input should be a valid boolean"),
        ("autofocus = true\nfocus = 40\n", "doccam.focus: .*needs autofocus = false"),
        ("focus = -3\n", "doccam.focus: Input should be greater than or equal to 0"),
        ("auto_exposure = true\nexposure = 9\n", "doccam.exposure: .*auto_exposure = false"),
        ('fake = "/nonexistent/page.png"\n', "doccam.fake: .*no such file or folder"),
    ],
)
def test_doccam_config_bad_values_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "booth.toml"
    path.write_text(f'site = "lib-kitee"\n[doccam]\n{text}')
    with pytest.raises(BoothConfigError, match=message):
        load_config(path, {})


def test_the_example_booth_toml_is_valid() -> None:
    example = Path(__file__).parent.parent / "infra" / "booth" / "booth.toml.example"
    assert load_config(example, {}).doccam.fps == 15.0
