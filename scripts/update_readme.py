"""Write the README's results section from the demo results file.

    python scripts/update_readme.py            # rewrite the section between the results markers
                                               # (and the Markdown table beside the results)
    python scripts/update_readme.py --check    # exit 1 when the README and the results disagree

The section is ``helpers.results.results_markdown`` of ``benchmarks/results/demo-sample.json``
(written by ``A2I_PRESET=demo python benchmarks/run_all.py``, which also runs this step);
nothing in it is typed by hand.
``tests/test_results.py`` runs the check.
"""

from __future__ import annotations

import argparse
import sys

from helpers.results import DEMO_RESULTS, README, load_results, readme_with_results, results_document


def main(check: bool) -> int:
    current = README.read_text()
    wanted = readme_with_results(current)
    if check:
        if wanted != current:
            print(f"{README} disagrees with {DEMO_RESULTS}: run `python scripts/update_readme.py`.")
            return 1
        print("README results match", DEMO_RESULTS.name)
        return 0
    README.write_text(wanted)
    table = DEMO_RESULTS.with_suffix(".md")
    table.write_text(results_document(load_results(DEMO_RESULTS), DEMO_RESULTS.stem))
    print(f"wrote the results section of {README} and {table.name} from {DEMO_RESULTS.name}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 on a difference")
    sys.exit(main(parser.parse_args().check))
