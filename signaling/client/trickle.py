"""Trickle ICE from aiortc: descriptions without candidates, candidates as signals."""

from __future__ import annotations

from typing import Any

from aiortc import RTCIceCandidate, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp

from ..protocol import IcePayload


def split_candidates(sdp: str) -> tuple[str, list[tuple[str, str | None, int]]]:
    """Return the SDP without candidate lines, and the candidates with mid and m-line index."""
    kept: list[str] = []
    candidates: list[tuple[str, str | None, int]] = []
    mline = -1
    mid: str | None = None
    for line in sdp.splitlines():
        if line.startswith("m="):
            mline += 1
            mid = None
        elif line.startswith("a=mid:"):
            mid = line[len("a=mid:") :]
        if line.startswith("a=candidate:"):
            candidates.append((line[2:], mid, mline))
            continue
        if line.startswith("a=end-of-candidates"):
            continue
        kept.append(line)
    return "\r\n".join(kept) + "\r\n", candidates


def description_payloads(description: RTCSessionDescription) -> list[dict[str, Any]]:
    """Return the signals for a local description: the SDP, each candidate, the end."""
    sdp, candidates = split_candidates(description.sdp)
    payloads: list[dict[str, Any]] = [{"kind": "sdp", "sdp_type": description.type, "sdp": sdp}]
    for candidate, mid, mline in candidates:
        payloads.append(
            {"kind": "ice", "candidate": candidate, "sdp_mid": mid, "sdp_mline_index": mline}
        )
    payloads.append({"kind": "ice", "candidate": None})
    return payloads


def remote_candidate(payload: IcePayload) -> RTCIceCandidate | None:
    """Return the candidate of an ``ice`` signal, or None for the end of candidates."""
    if not payload.candidate:  # null or "" both mean end of candidates
        return None
    candidate = candidate_from_sdp(payload.candidate.split(":", 1)[1])
    candidate.sdpMid = payload.sdp_mid
    candidate.sdpMLineIndex = payload.sdp_mline_index
    return candidate
