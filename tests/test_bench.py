"""The benchmarks (signaling, doccam) run end to end and print one well-formed JSON object.

Only the shape and sanity of the figures are checked, never their size: timings depend
on the machine and on whatever else runs on it.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent


def positive(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


def quick_bench(name: str, timeout: float) -> dict[str, Any]:
    """Run a benchmark with --quick; return the one JSON object it printed."""
    proc = subprocess.run(
        [sys.executable, "-m", "signaling.cli", "bench", name, "--json", "--quick"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    # Exactly one JSON object on stdout; progress goes to stderr.
    report, end = json.JSONDecoder().raw_decode(proc.stdout)
    assert proc.stdout[end:].strip() == ""
    assert isinstance(report, dict)
    return report


@pytest.mark.timeout(180)
def test_quick_bench_prints_one_json_object() -> None:
    report = quick_bench("signaling", timeout=150)
    assert {"bench", "results", "baseline", "ratios", "machine", "params"} <= report.keys()
    assert report["bench"] == "signaling"
    assert report["errors"] == []
    assert positive(report["machine"]["cpus"]) and report["machine"]["python"]
    assert report["params"]["quick"] is True

    node, baseline, ratios = report["results"], report["baseline"], report["ratios"]
    clients = report["params"]["clients"]
    assert node["connect"]["clients"] == node["connect"]["server_clients"] == clients
    assert baseline["connect"]["clients"] == clients
    for connect in (node["connect"], baseline["connect"]):
        assert positive(connect["clients_per_s"])
        assert positive(connect["hello_to_welcome_ms"]["p50"])

    routing = node["routing"]
    assert routing["samples"] == report["params"]["calls"]
    assert routing["waiting_calls"] == report["params"]["waiting"]
    for key in ("request_to_offer_ms", "accept_to_ack_ms", "end_to_session_ended_ms"):
        summary = routing[key]
        assert summary["n"] == routing["samples"]
        assert positive(summary["p50"]) and summary["p99"] >= summary["p50"]

    assert node["calls"]["completed"] > 0 and positive(node["calls"]["calls_per_s"])

    for relay in (node["relay"], baseline["relay"]):
        assert relay["pairs"] == report["params"]["pairs"]
        assert relay["latency"]["lost"] == relay["throughput"]["lost"] == 0
        assert positive(relay["latency"]["ms"]["p50"])
        assert relay["latency"]["ms"]["p99"] >= relay["latency"]["ms"]["p50"]
        assert positive(relay["throughput"]["msgs_per_s"])
        assert relay["malformed"] == 0

    for key in ("relay_msgs_per_s", "relay_latency_p50", "relay_latency_p99"):
        assert positive(ratios[key]), key
    assert set(report["aims"]) == {
        "clients_5000",
        "routing_p50_ms_under_20_with_100_waiting",
        "relay_ratio_at_least_0_6",
    }
    # The node saw no protocol errors, dropped no slow consumer, lost no offer.
    assert node["server"]["errors"] == {}
    assert node["server"]["slow_consumers"] == 0
    assert node["server"]["stray_offers"] == 0
    assert node["server"]["unsolicited_errors"] == 0


@pytest.mark.timeout(240)
def test_quick_doccam_bench_prints_one_json_object() -> None:
    report = quick_bench("doccam", timeout=200)
    assert {"bench", "results", "baseline", "ratios", "aims", "machine", "params"} <= report.keys()
    assert report["bench"] == "doccam"
    assert report["params"]["quick"] is True
    for side in (report["results"], report["baseline"]):
        assert (
            side["documents"]
            == report["params"]["documents_4k"] + report["params"]["documents_12mp"]
        )
        assert (
            side["no_document_images"]
            == report["params"]["empty_4k"] + report["params"]["empty_12mp"]
        )
        assert 0 <= side["detection_rate"] <= 1
        assert 0 <= side["false_detections"] <= side["no_document_images"]
        assert positive(side["cpu_ms"]["4k"]["detect"]["mean"])
    ours = report["results"]
    assert ours["detection_rate"] > 0 and ours["mean_error_pct"] is not None
    for size in ("4k", "12mp"):
        for stage in ("detect", "rectify", "enhance", "quality", "detect_rectify_enhance"):
            assert positive(ours["cpu_ms"][size][stage]["mean"]), (size, stage)
    assert set(report["ratios"]) >= {"detection_rate", "mean_error_pct", "detect_ms_4k"}
    assert set(report["aims"]) == {
        "detection_rate_at_least_98pct",
        "mean_error_at_most_1pct",
        "detect_rectify_enhance_4k_under_150ms",
    }


@pytest.mark.timeout(180)
def test_quick_doccam_still_bench_prints_one_json_object() -> None:
    report = quick_bench("doccam-still", timeout=150)
    assert report["bench"] == "doccam-still" and report["errors"] == []
    results, baseline = report["results"], report["baseline"]
    # The sample page's still: a corrected page and the whole 12 MP frame, over 1 MB.
    assert report["params"]["frame"] == [4000, 3000] and results["bytes"] > 1_000_000
    page, whole = results["request_to_page_ms"], results["request_to_last_byte_ms"]
    assert page["n"] == whole["n"] == baseline["process_and_websocket_ms"]["n"] == 2
    assert positive(page["mean"]) and page["mean"] <= whole["mean"]
    assert report["ratios"]["mean"] == round(
        whole["mean"] / baseline["process_and_websocket_ms"]["mean"], 2
    )
    assert set(report["aims"]) == {"page_of_12mp_still_within_1s", "whole_12mp_still_within_1s"}


@pytest.mark.timeout(180)
def test_quick_interpreting_bench_prints_one_json_object() -> None:
    report = quick_bench("interpreting", timeout=150)
    assert report["bench"] == "interpreting" and report["errors"] == []
    results, baseline = report["results"], report["baseline"]
    # 10 interpreters, 6 of them Arabic: each of the 2 requests rings all 6.
    assert results["rings_per_request"] == 6
    assert results["request_to_ring_ms"]["n"] == 12
    assert results["request_to_first_ring_ms"]["n"] == 2
    first, every = results["request_to_first_ring_ms"], results["request_to_ring_ms"]
    assert positive(first["p50"]) and first["max"] <= every["max"]
    # One interpreter joined in Chromium, and its video reached the booth's page.
    assert results["accept_to_media_ms"]["n"] == 1
    assert positive(results["accept_to_media_ms"]["p50"])
    assert positive(baseline["signaling_round_trip_ms"]["p50"])
    assert report["ratios"]["ring_p50_over_round_trip_p50"] == round(
        every["p50"] / baseline["signaling_round_trip_ms"]["p50"], 3
    )
    assert set(report["aims"]) == {"ring_p50_under_100_ms", "media_within_2_s_of_accept"}


@pytest.mark.postgres
@pytest.mark.timeout(240)
def test_quick_stats_bench_prints_one_json_object() -> None:
    report = quick_bench("stats", timeout=200)
    assert {"bench", "results", "baseline", "ratios", "aims", "machine", "params"} <= report.keys()
    assert report["bench"] == "stats" and report["errors"] == []
    assert report["params"]["quick"] is True and report["params"]["sessions"] == 20_000
    assert set(report["results"]) == set(report["baseline"]) == {"sqlite", "postgres"}
    for engine, result in report["results"].items():
        ingest = result["ingest"]
        # Every generated event was new, and the report counts what the raw events count.
        assert ingest["events"] == ingest["read"] == result["rows"]["events"] > 0
        assert result["rows"]["sessions"] == 20_000
        assert positive(ingest["events_per_s"]) and positive(result["bytes"])
        assert result["baseline_agrees"] is True
        assert set(result["reports"]) >= {"by_agency", "agency_by_month", "kela_by_day"}
        for name, timing in result["reports"].items():
            assert positive(timing["p50_ms"]) and timing["rows"] > 0, (engine, name)
            assert timing["min_ms"] <= timing["p50_ms"] <= timing["max_ms"]
        assert positive(report["baseline"][engine]["p50_ms"])
        ratios = report["ratios"][engine]
        for key in ("baseline_over_by_agency", "baseline_over_slowest_report", "ingest_over_aim"):
            assert positive(ratios[key]), (engine, key)
        assert set(report["aims"][engine]) == {
            "ingest_at_least_20000_events_per_s",
            "every_report_under_1_s",
        }
