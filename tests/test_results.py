import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.errors import ArtifactError
from helpers.results import (
    BENCHMARKS,
    README_BEGIN,
    README_END,
    load_results,
    method_rows,
    results_document,
    results_markdown,
    source_label,
    splice_readme,
)

ROOT = Path(__file__).resolve().parent.parent
DEMO_RESULTS = ROOT / "benchmarks" / "results" / "demo-sample.json"


def run_all(artifacts: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "A2I_PRESET": "ci", "A2I_ARTIFACTS": str(artifacts)}
    command = [sys.executable, "benchmarks/run_all.py", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)


def test_source_label_names_the_audio_and_any_other_image_source():
    assert source_label("sample", "digits") == "sample"
    assert source_label("fsdd", "mnist") == "fsdd+mnist"
    assert source_label("/data/my clips", "digits") == "my_clips"


def test_the_readme_results_section_is_the_demo_results_file():
    """The README's tables are generated; this fails when someone edits one number by hand or
    reruns the benchmarks without `python scripts/update_readme.py`."""
    done = subprocess.run(
        [sys.executable, "scripts/update_readme.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_markdown_beside_the_demo_results_is_generated_from_them():
    expected = results_document(load_results(DEMO_RESULTS), DEMO_RESULTS.stem)
    assert DEMO_RESULTS.with_suffix(".md").read_text() == expected


def test_a_changed_number_changes_the_readme_section():
    results = load_results(DEMO_RESULTS)
    readme = (ROOT / "README.md").read_text()
    changed = copy.deepcopy(results)
    changed["benchmarks"]["round_trip"]["result"]["rt_sc_db"] -= 1.0
    assert splice_readme(readme, results_markdown(changed)) != readme
    assert splice_readme(readme, results_markdown(results)) == readme


def test_the_demo_results_cover_every_benchmark_and_the_machine():
    results = load_results(DEMO_RESULTS)
    assert results["preset"] == "demo" and results["mode"] == "train"
    assert all("result" in results["benchmarks"][name] for name in BENCHMARKS)
    assert {"cpu_count", "tensorflow", "keras", "gpus"} <= set(results["machine"])
    methods = [row["method"] for row in method_rows(results)]
    assert len(methods) == 8 and methods[0].endswith("(core)")


def test_targets_are_judged_from_the_numbers():
    results = load_results(DEMO_RESULTS)
    tokens = results["benchmarks"]["tokens"]["result"]
    good, bad = copy.deepcopy(results), copy.deepcopy(results)
    good["benchmarks"]["tokens"]["result"] = {**tokens, "i2a_digit_accuracy": 0.95}
    bad["benchmarks"]["tokens"]["result"] = {**tokens, "i2a_digit_accuracy": 0.5}
    line = "image → audio: token agreement"
    good_row = next(row for row in results_markdown(good).splitlines() if line in row)
    bad_row = next(row for row in results_markdown(bad).splitlines() if line in row)
    assert good_row.endswith("≥ 80 %: met |") and bad_row.endswith("≥ 80 %: **not met** |")


def test_splice_needs_both_markers():
    assert (
        splice_readme(f"a\n{README_BEGIN}\nold\n{README_END}\nb", "new\n")
        == f"a\n{README_BEGIN}\n\nnew\n\n{README_END}\nb"
    )
    with pytest.raises(ValueError, match="markers"):
        splice_readme("no markers here", "new")


def test_load_results_names_a_missing_or_broken_file(tmp_path):
    with pytest.raises(ArtifactError, match="run_all"):
        load_results(tmp_path / "demo-sample.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ArtifactError, match=r"broken\.json is not valid JSON"):
        load_results(broken)


def test_run_all_writes_results_with_the_machine_and_keeps_what_it_did_not_rerun(tmp_path):
    out = tmp_path / "results"
    first = run_all(tmp_path, "--only", "preprocess", "round_trip", "--out", str(out))
    assert first.returncode == 0, first.stdout + first.stderr
    path = out / "ci-sample.json"
    results = json.loads(path.read_text())
    assert results["preset"] == "ci" and results["mode"] == "train" and results["date"].startswith("20")
    assert results["machine"]["cpu_count"] >= 1 and results["machine"]["tensorflow"]
    for name in ("preprocess", "round_trip"):
        entry = results["benchmarks"][name]
        assert entry["seconds"] > 0 and entry["command"] == f"python benchmarks/{name}.py"
    assert results["benchmarks"]["preprocess"]["result"]["clips"] == 100
    assert 0.0 <= results["benchmarks"]["round_trip"]["result"]["a2i_digit_acc"] <= 1.0
    table = (out / "ci-sample.md").read_text()
    assert "Front-end" in table and "Round trip" in table and "`tokens`: not run." in table

    # --no-train measures saved models: none were trained under tmp_path, and the paired
    # benchmark never saves any, so both are skipped with the reason, and the rest is kept
    second = run_all(tmp_path, "--no-train", "--only", "autoencoder", "paired", "--out", str(out))
    assert second.returncode == 0, second.stdout + second.stderr
    assert "autoencoder: skipped: no saved audio_model/" in second.stdout
    assert "paired: skipped: it trains its models on every run" in second.stdout
    results = json.loads(path.read_text())
    assert list(results["benchmarks"]) == ["preprocess", "autoencoder", "round_trip", "paired"]
    assert "result" in results["benchmarks"]["round_trip"] and "skipped" in results["benchmarks"]["paired"]


def test_run_all_reports_a_failing_benchmark_and_exits_non_zero(tmp_path):
    bad_images = tmp_path / "empty"
    bad_images.mkdir()
    env_dir = tmp_path / "artifacts"
    env = {
        **os.environ,
        "A2I_PRESET": "ci",
        "A2I_ARTIFACTS": str(env_dir),
        "A2I_IMAGE_SOURCE": str(bad_images),
    }
    command = [sys.executable, "benchmarks/run_all.py", "--only", "projection", "--out", str(tmp_path)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 1 and "projection: FAILED" in done.stdout
    results = json.loads((tmp_path / "ci-sample+empty.json").read_text())
    assert str(bad_images) in results["benchmarks"]["projection"]["error"]
