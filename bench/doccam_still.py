"""How long a 12 MP still takes from the expert's request to its last byte, on loopback.

The real path: a node, the agent's DoccamService with a fake 12 MP source, its aiortc
peer connection and ``doccam`` data channel, and an aiortc viewer on the expert's side
that checks every part's SHA-256. The baseline, in the same run on the same frame: the
same processing (``make_still``) and the same bytes over a plain loopback WebSocket in
the same 64 KiB chunks, so the ratio is the price of the WebRTC data channel.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
import cv2
import numpy as np
from aiohttp import web

from document_camera.sources import CaptureSettings
from document_camera.synth import MP_12, sample_frame
from endpoint_agent.doccam import DoccamService
from endpoint_agent.doccam_link import CHUNK_BYTES
from endpoint_agent.doccam_still import make_still
from signaling.client import SignalingClient, device_token, login
from signaling.client.doccam import DoccamViewer
from signaling.directory import load_directory
from signaling.protocol import CallQueued, Offer
from signaling.server import create_app
from signaling.store import MemoryStore

Json = dict[str, Any]
SITE, SECRET = "lib-kitee", "demo-secret-lib-kitee"
KELA = {"type": "call_request", "agency": "kela", "service": "general", "language": "fi"}
AIM_MS = 1000.0


def summary(values: Sequence[float]) -> Json:
    """Return n, mean, p50, p95 and max of a list of milliseconds."""
    arr = np.asarray(values, np.float64)
    return {
        "n": len(values),
        "mean": round(float(arr.mean()), 1),
        "p50": round(float(np.percentile(arr, 50)), 1),
        "p95": round(float(np.percentile(arr, 95)), 1),
        "max": round(float(arr.max()), 1),
    }


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    """Serve an application on a free loopback port."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def measure_doccam(frame_path: Path, stills: int) -> tuple[list[float], list[float], int]:
    """Return request-to-page and request-to-last-byte times (ms), and bytes per still."""
    store = MemoryStore()
    runner, base = await serve(create_app(load_directory(), store, "bench-node"))
    ws = base.replace("http", "ws") + "/ws"
    booth = SignalingClient(ws, await device_token(base, SITE, SECRET))
    expert = SignalingClient(ws, await login(base, "kela.expert", "demo"))

    async def token() -> str:
        return await device_token(base, SITE, SECRET, "doccam")

    service = DoccamService(CaptureSettings(fake=frame_path, fps=5), ws, token)
    viewer: DoccamViewer | None = None
    try:
        await booth.connect()
        await expert.connect()
        await expert.request({"type": "set_availability", "status": "available"})
        session_id = (await booth.request(KELA, expect=CallQueued)).session.session_id
        await expert.wait_for(Offer)
        await expert.request({"type": "offer_accept", "session_id": session_id})
        viewer = DoccamViewer(expert, session_id)
        viewer.start()
        await service.set_call(session_id)
        await viewer.wait(lambda: viewer.of_type("hello"), timeout=60)
        viewer.send({"type": "options", "auto_capture": False, "bw": False})
        await asyncio.sleep(0.5)  # an auto still may be under way: let it finish
        await viewer.wait(lambda: viewer.channel is not None and not service._still_lock.locked())
        to_page: list[float] = []
        times: list[float] = []
        size = 0
        for n in range(stills):
            before = len(viewer.stills)
            started = time.perf_counter()
            viewer.send({"type": "capture", "request_id": f"b{n}", "bw": False})
            await viewer.wait(lambda before=before: len(viewer.stills) > before, timeout=60)
            still = viewer.stills[-1]
            to_page.append((still.arrived_at["page"] - started) * 1000)
            times.append((still.completed_at - started) * 1000)
            size = sum(len(p) for p in still.parts.values())
            print(f"doccam-still bench: {n + 1}/{stills}", file=sys.stderr, end="\r")
        print(file=sys.stderr)
        return to_page, times, size
    finally:
        if viewer is not None:
            await viewer.close()
        await service.close()
        await booth.close()
        await expert.close()
        await runner.cleanup()
        await store.close()


async def measure_console(frame_path: Path, stills: int) -> list[float]:
    """Return request-to-page-drawn times (ms) in the expert console in Chromium."""
    import agent_console
    import browser_client

    from .doccam_console import console_times

    store = MemoryStore()
    app = create_app(
        load_directory(),
        store,
        "bench-node",
        console_dir=agent_console.STATIC_DIR,
        client_dir=browser_client.DIRECTORY,
    )
    runner, base = await serve(app)
    ws = base.replace("http", "ws") + "/ws"
    booth = SignalingClient(ws, await device_token(base, SITE, SECRET))

    async def token() -> str:
        return await device_token(base, SITE, SECRET, "doccam")

    service = DoccamService(CaptureSettings(fake=frame_path, fps=5), ws, token)

    async def call() -> str:
        await booth.connect()
        return (await booth.request(KELA, expect=CallQueued)).session.session_id

    try:
        return await console_times(base, stills, call, service.set_call)
    finally:
        await service.close()
        await booth.close()
        await runner.cleanup()
        await store.close()


async def measure_baseline(frame: np.ndarray, stills: int) -> list[float]:
    """Return the times (ms) of the same processing and bytes over a loopback WebSocket."""
    received: asyncio.Queue[bytes] = asyncio.Queue()

    async def sink(request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(max_msg_size=0)
        await socket.prepare(request)
        async for message in socket:
            received.put_nowait(message.data)
        return socket

    app = web.Application()
    app.router.add_get("/", sink)
    runner, base = await serve(app)
    times = []
    try:
        async with aiohttp.ClientSession() as http, http.ws_connect(base) as socket:
            for _ in range(stills):
                started = time.perf_counter()
                still = await asyncio.to_thread(make_still, frame, "expert")
                await socket.send_str(json.dumps(still.announcement()))
                for part in still.parts:
                    for offset in range(0, len(part.data), CHUNK_BYTES):
                        await socket.send_bytes(part.data[offset : offset + CHUNK_BYTES])
                await received.get()
                for part in still.parts:
                    data = bytearray()
                    while len(data) < len(part.data):
                        data.extend(await received.get())
                    assert hashlib.sha256(data).hexdigest() == part.describe()["sha256"]
                times.append((time.perf_counter() - started) * 1000)
    finally:
        await runner.cleanup()
    return times


async def run(params: argparse.Namespace) -> Json:
    """Generate the 12 MP frame, measure both paths, and return the report."""
    scene = sample_frame(MP_12)
    with tempfile.TemporaryDirectory(prefix="etapiste-bench-") as folder:
        path = Path(folder) / "page.png"  # a generated page, not a citizen's
        cv2.imwrite(str(path), scene.image)
        to_page, ours, size = await measure_doccam(path, params.stills)
        on_screen = await measure_console(path, params.stills) if params.console else None
    base = await measure_baseline(scene.image, params.stills)
    results: Json = {
        "request_to_page_ms": summary(to_page),
        "request_to_last_byte_ms": summary(ours),
        "bytes": size,
    }
    if on_screen is not None:
        results["console_request_to_page_drawn_ms"] = summary(on_screen)
    baseline: Json = {"process_and_websocket_ms": summary(base)}
    return {
        "bench": "doccam-still",
        "results": results,
        "baseline": baseline,
        "ratios": {
            "mean": round(
                results["request_to_last_byte_ms"]["mean"]
                / baseline["process_and_websocket_ms"]["mean"],
                2,
            )
        },
        "aims": {
            "page_of_12mp_still_within_1s": results["request_to_page_ms"]["p95"] < AIM_MS,
            "whole_12mp_still_within_1s": results["request_to_last_byte_ms"]["p95"] < AIM_MS,
            **(
                {"on_the_console_within_1s": summary(on_screen)["p95"] < AIM_MS}
                if on_screen is not None
                else {}
            ),
        },
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "opencv": cv2.__version__,
        },
        "params": {
            "quick": params.quick,
            "stills": params.stills,
            "frame": list(MP_12),
            "console": params.console,
        },
        "errors": [],
    }


def main(argv: Sequence[str]) -> int:
    """Run the benchmark; print one JSON object with --json, else a summary."""
    parser = argparse.ArgumentParser(prog="etapiste bench doccam-still")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="two stills (smoke test)")
    parser.add_argument("--stills", type=int, default=None, help="stills to time (10)")
    parser.add_argument(
        "--console",
        action="store_true",
        help="also time the page drawn in the expert console in Chromium (needs Playwright)",
    )
    params = parser.parse_args(list(argv))
    if params.stills is None:
        params.stills = 2 if params.quick else 10
    report = asyncio.run(run(params))
    if params.json:
        sys.stdout.write(json.dumps(report) + "\n")
    else:
        r, b = report["results"]["request_to_last_byte_ms"], report["baseline"]
        print(f"12 MP still over the data channel: mean {r['mean']} ms, p95 {r['p95']} ms")
        print(f"baseline (same work, plain WebSocket): {b['process_and_websocket_ms']}")
    sys.stdout.flush()
    return 0
