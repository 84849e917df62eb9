"""Test-session environment: the ci preset, a temporary artifacts root, an empty cache.

Set here (before any test or notebook kernel starts) so that `pytest` alone runs
everything fast and never writes into the repository or downloads anything.
"""

import os
import tempfile

import matplotlib

matplotlib.use("Agg")


def pytest_configure(config):
    session_dir = tempfile.mkdtemp(prefix="a2i-tests-")
    os.environ["A2I_PRESET"] = "ci"
    os.environ.setdefault("A2I_ARTIFACTS", os.path.join(session_dir, "artifacts"))
    os.environ.setdefault("A2I_CACHE", os.path.join(session_dir, "cache"))
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
