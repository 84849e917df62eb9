import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_preprocess_benchmark_prints_one_json_object(tmp_path):
    env = {**os.environ, "A2I_PRESET": "ci", "A2I_ARTIFACTS": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "benchmarks/preprocess.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(result.stdout)
    for key in ("clips", "seconds", "clips_per_second", "gl_iterations", "gl_sc_db", "gl_lsd_db"):
        assert key in report
    assert report["clips"] == 100 and report["gl_iterations"] == 16
    assert report["gl_sc_db"] < -12 and report["clips_per_second"] > 0
    assert (tmp_path / "features" / "ci-sample" / "train.npz").is_file()
