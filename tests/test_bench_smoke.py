"""A tiny run of the benchmark, so that bench/ cannot rot. The real figures come from
``python -m bench.run`` (docs/performance.md); this only proves every scenario still runs
end to end against the real server and the bare one."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import pg

ROOT = Path(__file__).resolve().parent.parent


def test_quick_benchmark_runs_every_scenario_and_writes_its_table(tmp_path: Path):
    out, raw = tmp_path / "performance.md", tmp_path / "results.json"
    out.write_text("# Performance\n\nHand-written analysis stays.\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--quick",
            "--work",
            str(tmp_path / "work"),
            "--out",
            str(out),
            "--json",
            str(raw),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(raw.read_text())
    fan = results["fanout"]
    assert fan["ours"]["deliveries_per_s"] > 0 and fan["bare"]["deliveries_per_s"] > 0
    assert fan["ours"]["errors"] == 0 and fan["ours"]["latency_ms"]["n"] > 0
    assert fan["ours"]["cpu_s_per_1000"] is not None
    assert all(r["posts_per_s"] > 0 and r["errors"] == 0 for r in results["durable"].values())
    assert set(results["durable"]) == {"NORMAL", "FULL"}
    assert results["idle"]["open"] == results["idle"]["connections"] == 50
    assert results["idle"]["rss_after_mb"] > 0
    assert results["inbox"]["entries"] > 0 and results["inbox"]["domain_ms"]["n"] > 0
    search = results["search"]
    assert search["ms"]["n"] > 0 and search["statuses"] == {"200": search["ms"]["n"]}
    history = results["history"]
    assert history["history_ms"]["n"] > 0 and history["startup_s"] > 0
    assert history["catchup"]["median_ms"] is not None
    text = out.read_text()
    assert "Hand-written analysis stays." in text
    assert "<!-- bench:start -->" in text and "### Targets" in text
    assert "python -m bench.run --quick" in text and "cores" in text


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_quick_cluster_benchmark_spreads_the_load_over_two_processes_and_redis(tmp_path: Path):
    out, raw = tmp_path / "performance.md", tmp_path / "results.json"
    out.write_text("# Performance\n")
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--only", "cluster"]
        + ["--backplane", "redis", "--nodes", "2", "--work", str(tmp_path / "work")]
        + ["--out", str(out), "--json", str(raw)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    c = json.loads(raw.read_text())["cluster"]
    assert c["nodes"] == 2 and c["errors"] == 0 and c["deliveries_per_s"] > 0
    assert c["latency_same_ms"]["n"] > 0 and c["latency_cross_ms"]["n"] > 0
    assert c["server_cpu_s_per_1000"] is not None and c["redis_cpu_s_per_1000"] is not None
    assert "Several processes" in out.read_text()


def test_cluster_benchmark_refuses_several_nodes_without_a_backplane(tmp_path: Path):
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--nodes", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "needs --backplane redis" in done.stderr


@pytest.mark.skipif(
    not pg.wanted() or shutil.which("redis-server") is None,
    reason="on the PostgreSQL pass only (its throwaway server costs seconds): needs redis-server",
)
def test_cluster_benchmark_on_postgres_reports_postgres_cpu_apart(tmp_path: Path):
    raw = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--database", "postgres"]
        + ["--backplane", "redis", "--nodes", "2", "--work", str(tmp_path / "work")]
        + ["--out", str(tmp_path / "performance.md"), "--json", str(raw)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    c = json.loads(raw.read_text())["cluster"]
    assert c["database"] == "postgres" and c["errors"] == 0 and c["deliveries_per_s"] > 0
    assert c["postgres_cpu_s_per_1000"] > 0 and c["redis_cpu_s_per_1000"] is not None
