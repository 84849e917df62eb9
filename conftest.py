"""Test-session environment: the ci preset, a temporary artifacts root and cache, the
default sources. Set here (before any test or notebook kernel starts), overriding the
caller's shell, so `pytest` alone runs fast, offline, and never writes into the repository.
"""

import os
import shutil
import tempfile

import matplotlib

matplotlib.use("Agg")
SESSION_DIR = tempfile.mkdtemp(prefix="a2i-tests-")


def pytest_configure(config):
    os.environ.update(
        {
            "A2I_PRESET": "ci",
            "A2I_ARTIFACTS": os.path.join(SESSION_DIR, "artifacts"),
            "A2I_CACHE": os.path.join(SESSION_DIR, "cache"),
            "A2I_AUDIO_SOURCE": "sample",
            "A2I_IMAGE_SOURCE": "digits",
            "MPLBACKEND": "Agg",
            "TF_CPP_MIN_LOG_LEVEL": "2",
        }
    )
    for name in (
        "A2I_SEED",
        "A2I_STREAMING",
        "A2I_FSDD_URL",
        "A2I_FSDD_SHA256",
        "A2I_MNIST_URL",
        "A2I_MNIST_SHA256",
    ):
        os.environ.pop(name, None)


def pytest_unconfigure(config):
    shutil.rmtree(SESSION_DIR, ignore_errors=True)
