"""The library versions a run uses, checked against the oldest ones the suite is tested on.

``requirements.txt`` states each package's floor (``name>=version``); CI runs the tests on
exactly those versions too (``requirements-floor.txt``). Every notebook prints
``summary()`` in its Setup cell and calls ``check_floor()``, so a runtime with an older
library (a Colab image, an old virtual environment) stops with what to install instead of
failing later in a model file. Taught in ``01_preprocess.ipynb``.
"""

from __future__ import annotations

import importlib
import re
from importlib import metadata
from pathlib import Path

from packaging.version import Version

from helpers.config import REPO_ROOT
from helpers.errors import ConfigError

REQUIREMENTS = REPO_ROOT / "requirements.txt"
SHOWN = ("tensorflow", "keras", "numpy", "librosa", "scipy", "scikit-learn", "matplotlib")
FRONT_ENDS = ("jupyter", "ipykernel")  # run notebooks locally; Colab brings its own (an older ipykernel)
MODULES = {"scikit-learn": "sklearn", "pillow": "PIL"}  # import names unlike the package's
_FLOOR_LINE = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*>=\s*([0-9][^,;\s]*)")


def floors(path: str | Path = REQUIREMENTS) -> dict[str, str]:
    """``{package: oldest version}`` from the ``name>=version`` lines of a requirements file."""
    found = {}
    for line in Path(path).read_text().splitlines():
        match = _FLOOR_LINE.match(line.split("#", 1)[0])
        if match:
            found[match.group(1).lower()] = match.group(2)
    return found


def installed(package: str) -> str | None:
    """The installed version of ``package``, or None when it is not installed. A package that
    came under another distribution's name (``tensorflow-macos``, ``tensorflow-cpu``) is found
    by importing it and reading its ``__version__``."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        pass
    try:
        return str(importlib.import_module(MODULES.get(package, package)).__version__)
    except (ImportError, AttributeError):
        return None


def summary(packages: tuple[str, ...] = SHOWN) -> str:
    """One line naming the Python package versions in use, e.g. ``tensorflow 2.21.0 · keras 3.15.1``."""
    return " · ".join(f"{name} {installed(name) or 'not installed'}" for name in packages)


def older_than_floor(path: str | Path = REQUIREMENTS) -> dict[str, tuple[str | None, str]]:
    """``{package: (installed, floor)}`` for every library the code imports that is missing or
    older than its floor (the notebook front ends of ``FRONT_ENDS`` are not checked)."""
    behind = {}
    for name, floor in floors(path).items():
        if name in FRONT_ENDS:
            continue
        version = installed(name)
        if version is None or Version(version) < Version(floor):
            behind[name] = (version, floor)
    return behind


def check_floor(path: str | Path = REQUIREMENTS) -> None:
    """Raise ``ConfigError`` naming each package older than the floor in ``path`` and the fix.

    Does nothing when ``path`` is absent (helpers installed without the repository)."""
    if not Path(path).is_file():
        return
    behind = older_than_floor(path)
    if not behind:
        return
    listed = ", ".join(
        f"{name} {version or '(missing)'} < {floor}" for name, (version, floor) in behind.items()
    )
    wanted = " ".join(f"'{name}>={floor}'" for name, (_, floor) in behind.items())
    raise ConfigError(
        f"these libraries are older than the oldest versions this suite is tested on ({Path(path).name}): "
        f"{listed}. What to do: pip install {wanted}, then restart the kernel (in Colab, TensorFlow comes "
        "with the runtime: pick a newer one under Runtime > Change runtime type)."
    )
