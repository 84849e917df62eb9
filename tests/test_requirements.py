"""The tested version range: one floor, stated alike in every requirements file and enforced."""

import json
import re
from pathlib import Path

import pytest

from helpers import versions
from helpers.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.floor


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", line.strip())
        if match:
            found[match.group(1).lower()] = match.group(2)
    return found


def test_the_floor_file_pins_exactly_the_lower_bounds_of_requirements():
    assert pins(ROOT / "requirements-floor.txt") == versions.floors(ROOT / "requirements.txt")


def test_colab_upgrades_to_the_same_floors_and_never_touches_tensorflow():
    colab = versions.floors(ROOT / "requirements-colab.txt")
    floors = versions.floors(ROOT / "requirements.txt")
    lines = (ROOT / "requirements-colab.txt").read_text().lower().splitlines()
    assert not [line for line in lines if "tensorflow" in line.split("#")[0]]
    assert colab == {
        name: floor
        for name, floor in floors.items()
        if name != "tensorflow" and name not in versions.FRONT_ENDS
    }


def test_this_environment_meets_the_floor_and_an_older_library_is_named_with_the_fix(tmp_path):
    versions.check_floor()  # both CI environments, the newest and the floor, pass
    (tmp_path / "requirements.txt").write_text(
        "numpy>=999.0  # from the future\nkeras>=3.0\nipykernel>=999\n"
    )
    with pytest.raises(ConfigError, match=r"numpy \S+ < 999\.0.*pip install 'numpy>=999\.0'") as error:
        versions.check_floor(tmp_path / "requirements.txt")
    assert "keras" not in str(error.value) and "ipykernel" not in str(error.value), "only what is behind"


def test_every_notebook_checks_and_prints_the_versions_it_runs_on():
    for path in sorted(ROOT.glob("notebooks/*.ipynb")):
        code = [
            "".join(cell["source"])
            for cell in json.loads(path.read_text())["cells"]
            if cell["cell_type"] == "code"
        ]
        colab, setup = code[0], next(cell for cell in code if "from helpers import" in cell)
        assert '"google.colab" in sys.modules' in colab and "requirements-colab.txt" in colab, path.name
        assert "tensorflow" not in colab.lower().split("tensorflow comes with colab")[-1], path.name
        assert "versions.check_floor()" in setup and "print(versions.summary())" in setup, path.name


def test_the_readme_names_the_tested_range():
    readme = (ROOT / "README.md").read_text()
    floors = versions.floors(ROOT / "requirements.txt")
    for name in ("tensorflow", "keras", "numpy"):
        assert f"{name} {floors[name]}" in readme.lower(), name


def test_a_library_installed_under_another_distribution_name_is_found_by_import(monkeypatch):
    """tensorflow-macos or tensorflow-cpu provide the tensorflow module under other names."""
    from importlib import metadata

    def unknown(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", unknown)
    import numpy

    assert versions.installed("numpy") == numpy.__version__
    assert versions.installed("no-such-library-anywhere") is None
