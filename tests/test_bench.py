"""``deocclude bench`` end to end on the bundled examples: the structure of what it writes (no timing thresholds)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deocclude.benchmark.latency import STAGES
from deocclude.cli import main


def test_bench_writes_json_and_markdown(tmp_path: Path, capsys) -> None:
    import torch

    threads = torch.get_num_threads()
    out = tmp_path / "results"
    # --faces 2 keeps the test short; the defaults are 16 faces per repeat, sizes 128 256, batches 1 16
    assert (
        main(["bench", "--repeats", "1", "--sizes", "128", "--batch-sizes", "1", "--faces", "2", "--out", str(out)])
        == 0
    )
    assert torch.get_num_threads() == threads  # the benchmark's thread setting does not leak
    result = json.loads((out / "bench.json").read_text())
    assert result["command"].startswith("deocclude bench --sizes 128 --batch-sizes 1 --repeats 1")
    machine = result["machine"]
    assert {"cpu", "cores", "torch", "torch_threads", "devices"} <= set(machine) and "cpu" in machine["devices"]
    assert result["config"]["repeats"] == 1 and len(result["config"]["photos"]) >= 1
    rows = result["rows"]
    assert [(r["mode"], r["size"], r["batch_size"]) for r in rows if r["device"] == "cpu"] == [
        ("classical", 128, 1), ("photos", 128, 1), ("aligned", 128, 1)]
    expected = {
        "classical": {"detect", "landmarks", "align", "fill", "paste"},
        "photos": set(STAGES),
        "aligned": {"align", "segment", "reconstruct", "mask", "fill"},
    }
    for row in rows:
        assert row["faces_per_repeat"] == 2 and row["failed_faces"] == 0
        assert set(row["stages_ms_per_face"]) == expected[row["mode"]]
        for stat in [row["ms_per_face"], *row["stages_ms_per_face"].values()]:
            assert set(stat) == {"median", "p90"} and 0 <= stat["median"] <= stat["p90"]
        assert row["faces_per_s"]["median"] > 0 and row["process_cpu_per_wall"] > 0
        assert {"peak_rss_above_start_mb", "ru_maxrss_mb", "tracemalloc_peak_mb"} <= set(row["memory"])
    markdown = (out / "bench.md").read_text()
    assert markdown.startswith("# deocclude bench\n\n```bash\n" + result["command"] + "\n```\n")
    assert "Machine: " in markdown and f"torch {machine['torch']}" in markdown
    assert markdown.count("\n| classical | 128 | cpu | 1 |") == 1


def test_bench_rejects_bad_values_with_one_line(tmp_path: Path, capsys) -> None:
    assert main(["bench", "--batch-sizes", "32", "--faces", "16", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "deocclude: error: --faces (16) must be at least the largest batch size (32)"
    with pytest.raises(SystemExit):
        main(["bench", "--sizes", "big"])


def test_bench_times_the_fill_it_is_given(tmp_path: Path) -> None:
    """``--fill g`` runs the learned G in the timed pipeline (and says so), not the default blend."""
    out = tmp_path / "g"
    assert main(["bench", "--repeats", "1", "--sizes", "128", "--batch-sizes", "1", "--faces", "2", "--fill", "g",
                 "--out", str(out)]) == 0
    result = json.loads((out / "bench.json").read_text())
    assert result["config"]["fill"] == "g" and "--fill g" in result["command"]
    markdown = (out / "bench.md").read_text()
    assert "S + R + G with I_R" in markdown and "I_R Poisson blend" not in markdown


def test_bench_without_the_rescue_says_so_and_runs_the_detector_without_it(tmp_path: Path, monkeypatch) -> None:
    """``--no-rescue`` times ``deocclude run --no-rescue``: every Deoccluder the bench builds has the rescue off."""
    from deocclude import pipeline

    seen: list[bool] = []
    original = pipeline.Deoccluder.__init__

    def spy(self, config=None) -> None:  # noqa: ANN001
        config = config or pipeline.DeoccluderConfig()
        seen.append(config.rescue)
        original(self, config)

    monkeypatch.setattr(pipeline.Deoccluder, "__init__", spy)
    out = tmp_path / "fast"
    assert main(["bench", "--repeats", "1", "--sizes", "128", "--batch-sizes", "1", "--faces", "2", "--no-rescue",
                 "--out", str(out)]) == 0
    result = json.loads((out / "bench.json").read_text())
    assert seen and not any(seen) and result["config"]["rescue"] is False and "--no-rescue" in result["command"]
    assert "without the rescue" in (out / "bench.md").read_text()
