"""Save a changed copy of an image model and die by SIGKILL part-way through the save.

    python tests/kill_during_save.py MODEL_FOLDER after_first_file|before_commit

Run by ``tests/test_reliability.py``: loads the bundle in MODEL_FOLDER, changes the
generator's weights, and saves it back with ``save_image_model``, killing the process
(no cleanup runs) after the first new weights file is written, or just before the new
``config.json`` would replace the old one.
"""

from __future__ import annotations

import os
import signal
import sys

from helpers import artifacts
from helpers.models.gan import load_image_model, save_image_model


def die_on_call(function, call: int):
    """``function``, except that its ``call``-th call SIGKILLs the process instead."""
    calls = []

    def wrapped(*args, **kwargs):
        calls.append(1)
        if len(calls) == call:
            os.kill(os.getpid(), signal.SIGKILL)
        return function(*args, **kwargs)

    return wrapped


def main(folder: str, point: str) -> None:
    models, config = load_image_model(folder)
    generator = models["generator"]
    generator.set_weights([w + 1.0 for w in generator.get_weights()])
    if point == "after_first_file":
        artifacts.file_sha256 = die_on_call(artifacts.file_sha256, 1)  # the first file is on disk
    else:
        artifacts.save_json = die_on_call(artifacts.save_json, 1)  # every file written, no commit yet
    extra = {key: value for key, value in config.items() if key not in ("files", "sha256")}
    save_image_model(folder, models, extra)
    raise SystemExit("the save finished: the kill did not happen")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
