"""Every notebook reads as a lesson: a purpose and what you will learn, short markdown cells,
a conclusion and a few prompts to try, and no project history (it lives in
docs/experiments.md)."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(ROOT.glob("notebooks/*.ipynb"))
MAX_WORDS = 250  # per markdown cell
HISTORY = re.compile(r"our trials|shipped before|in an earlier run|\bissues?\b", re.IGNORECASE)


def markdown_cells(path: Path) -> list[str]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown"]


def test_there_are_notebooks_to_check():
    assert len(NOTEBOOKS) >= 7


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_a_notebook_is_a_lesson(path):
    cells = markdown_cells(path)
    words = {index: len(re.findall(r"\S+", text)) for index, text in enumerate(cells)}
    assert max(words.values()) <= MAX_WORDS, {i: n for i, n in words.items() if n > MAX_WORDS}
    opening = cells[0]
    assert opening.startswith("# ") and "**Purpose:**" in opening
    assert f"blob/main/notebooks/{path.name})" in opening, "the Colab badge opens this notebook"
    learn = opening.split("**You will learn**", 1)
    assert len(learn) == 2 and len(re.findall(r"^\* ", learn[1], re.MULTILINE)) == 3, "three things to learn"
    assert any(text.lstrip().startswith("## Conclusion") for text in cells)
    tries = [text for text in cells if re.match(r"#+ Try it", text.lstrip())]
    assert len(tries) == 1, "one 'Try it' section at the end"
    prompts = re.findall(r"^(?:\* |\d+\. )", tries[0], re.MULTILINE)
    assert 2 <= len(prompts) <= 3, f"{len(prompts)} prompts to try"
    history = [match.group(0) for text in cells for match in HISTORY.finditer(text)]
    assert not history, history
    links = sum(text.count("](../docs/experiments.md") for text in cells)
    assert links <= 1, "docs/experiments.md linked once"
