"""bench/README.md names every benchmark script and what it measures, and no count of them that goes stale."""
import re
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def test_the_bench_readme_lists_every_script_with_what_it_measures():
    readme = (BENCH / "README.md").read_text()
    intro = readme.split("\n## ", 1)[0]
    scripts = sorted(path.name for path in BENCH.glob("*.py") if not path.name.startswith("_"))
    assert scripts
    for name in scripts:
        row = re.search(rf"^\| \[`{re.escape(name)}`\]\(#[^)]+\) \| (.+) \|$", intro, re.MULTILINE)
        assert row and row.group(1).strip(), f"{name} has no row saying what it measures"
        assert f"\n## `bench/{name}`" in readme, f"{name} has no section"
    assert not re.search(r"\b(one|two|three|four|five|six|seven|eight|nine|ten|\d+) (benchmark )?scripts\b",
                         readme, re.IGNORECASE)
