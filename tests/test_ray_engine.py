"""``deocclude run --engine ray`` on a local 2-CPU Ray cluster: the local engine's outputs byte for byte, and resume."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from deocclude.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
VOLATILE = ("seconds", "timings")


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    """One local cluster for the module (starting one takes seconds): 2 CPUs, no dashboard, nothing on the network."""
    ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'deocclude[ray]')")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=200 * 2**20)
    yield
    ray.shutdown()


def _outputs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and not p.name.startswith("manifest")}


def _records(entries: list[dict]) -> dict[str, dict]:
    """Manifest records by input, without timings, output paths relative to their folder."""
    return {e["input"]: {k: (Path(v).name if k == "output" and v else v) for k, v in e.items() if k not in VOLATILE}
            for e in entries}


def _jsonl(folder: Path) -> list[dict]:
    """manifest.jsonl's complete records (a killed run's torn line stays in the file; readers skip it)."""
    records = []
    for line in (folder / "manifest.jsonl").read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def _cut(folder: Path, names: list[str]) -> None:
    """What a killed job leaves: the photos ``names`` have no record (one a torn line), a temp file lies around."""
    kept = [line for line in (folder / "manifest.jsonl").read_text().splitlines()
            if Path(json.loads(line)["input"]).stem not in names]
    (folder / "manifest.jsonl").write_text("\n".join(kept) + '\n{"input": "torn')
    (folder / "manifest.json").unlink()
    for name in names:
        (folder / f"{name}.png").unlink()
    (folder / f".{names[0]}.png.part").write_bytes(b"half")


@pytest.mark.slow
def test_ray_engine_writes_the_local_engines_bytes_and_resumes(ray_cluster: None, tmp_path: Path) -> None:
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    photos = sorted(str(p) for p in EXAMPLES.glob("*.jpg"))
    assert len(photos) == 3
    listing = tmp_path / "photos.txt"  # a text manifest of paths, as a user with a million photos gives them
    listing.write_text("# the bundled examples\n" + "\n".join(photos) + "\n")
    assert main(["run", str(EXAMPLES), "-o", str(local), "--format", "png", "--device", "cpu"]) == 0
    assert main(["run", str(listing), "-o", str(on_ray), "--format", "png", "--device", "cpu",
                 "--engine", "ray", "--actors", "2"]) == 0

    assert _outputs(on_ray) == _outputs(local)  # every photo, mask and grid: the same bytes
    local_manifest, ray_manifest = (json.loads((f / "manifest.json").read_text()) for f in (local, on_ray))
    assert _records(ray_manifest["files"]) == _records(local_manifest["files"])
    assert [e["input"] for e in ray_manifest["files"]] == photos  # input order, whatever order actors finish in
    assert _records(_jsonl(on_ray)) == _records(_jsonl(local))
    assert ray_manifest["changed"] == local_manifest["changed"] == 2  # the clean astronaut.jpg is left as it is

    # killed with two photos unrecorded; resumed in batches of one photo on two actors, against the local
    # engine resumed the same way (a resumed run batches the remaining faces afresh, locally too)
    cut = ["astronaut_mask", "astronaut_sunglasses"]
    _cut(local, cut)
    _cut(on_ray, cut)
    kept = (on_ray / "astronaut.png").stat().st_mtime_ns
    resume = ["--format", "png", "--device", "cpu", "--skip-existing", "--batch-size", "1"]
    assert main(["run", str(EXAMPLES), "-o", str(local), *resume]) == 0
    assert main(["run", str(EXAMPLES), "-o", str(on_ray), *resume, "--engine", "ray", "--actors", "2"]) == 0
    assert _outputs(on_ray) == _outputs(local)
    assert not list(on_ray.glob(".*.part*"))
    assert (on_ray / "astronaut.png").stat().st_mtime_ns == kept  # a recorded photo is not redone
    ray_manifest = json.loads((on_ray / "manifest.json").read_text())
    assert ray_manifest["skipped"] == [photos[0]]
    assert _records(ray_manifest["files"]) == _records(json.loads((local / "manifest.json").read_text())["files"])
    assert sorted(e["input"] for e in _jsonl(on_ray)) == photos  # one complete record each, the torn line dropped


def test_without_ray_the_engine_is_a_one_line_error_naming_the_install(monkeypatch: pytest.MonkeyPatch,
                                                                       tmp_path: Path, capsys) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError, as where it is not installed
    assert main(["run", str(EXAMPLES / "astronaut.jpg"), "-o", str(tmp_path / "out"), "--engine", "ray"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "deocclude: error: --engine ray needs Ray Data, which is not installed: pip install 'deocclude[ray]'"


def test_ray_flags_without_the_ray_engine_are_refused(tmp_path: Path, capsys) -> None:
    assert main(["run", str(EXAMPLES / "astronaut.jpg"), "-o", str(tmp_path / "out"), "--actors", "4"]) == 2
    assert "need --engine ray" in capsys.readouterr().err


def test_cuda_without_gpu_actors_is_refused_before_ray_starts(tmp_path: Path, capsys) -> None:
    pytest.importorskip("ray", reason="the ray extra is not installed")
    assert main(["run", str(EXAMPLES / "astronaut.jpg"), "-o", str(tmp_path / "out"), "--engine", "ray",
                 "--device", "cuda"]) == 2
    assert "needs --num-gpus-per-actor" in capsys.readouterr().err
