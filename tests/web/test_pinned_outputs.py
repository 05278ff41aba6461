"""The public outputs that tools read, pinned byte for byte on the demo data.

What a fresh `make demo` serves (`manage.py seed_demo`, every demo file scored) is compared with
the files under tests/pinned/: each demo benchmark's `leaderboard.json`, `leaderboard.csv` and
`benchmark.json`, fetched by an anonymous visitor, and the `--json` output of
`python -m scoring` run as a real process on two of the demo's files (a pre-graded SimpleQA file
and an MMLU-Pro multiple-choice file, with the bootstrap it does by default). A refactoring must
leave every byte of them as it is; a change that means to alter one of these shapes regenerates
the files deliberately and shows the difference in its commit.

Nothing in them is left out or replaced by a placeholder. The outputs hold submission ids, and
each benchmark's bootstrap seed is its primary key, so the seeding runs in a transactional test
whose sequences are reset first: the benchmarks and submissions get the numbers of a fresh
`make demo` (simpleqa-cs 1 with submissions 1-5, mmlu-pro 2 with submissions 6-34) on any test
database, on every run. No timestamp appears in them, nor any URL of the site.

To regenerate the pinned files from the code as it is (and then review `git diff tests/pinned`):

    UPDATE_PINNED=1 make test PYTEST_ARGS="tests/web/test_pinned_outputs.py"

With UPDATE_PINNED=1 the tests write the files and skip instead of comparing.
"""

from __future__ import annotations

import difflib
import gzip
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]
PINNED = ROOT / "tests" / "pinned"
UPDATE = os.environ.get("UPDATE_PINNED") == "1"

DEMO_SLUGS = ("simpleqa-cs", "mmlu-pro")
# The site's exports, by the name of the pinned file after the benchmark's slug.
EXPORTS = ("leaderboard.json", "leaderboard.csv", "benchmark.json")
# benchmark.json holds every item with its question: megabytes, kept compressed in the repository.
COMPRESSED = {"benchmark.json"}

# `python -m scoring` runs: the pinned file's name and the command's arguments.
CLI_RUNS = {
    "cli.simpleqa-cs.gpt-4o-mini-2024-07-18.json": [
        "demo/simpleqa-cs/gold.csv.gz",
        "demo/simpleqa-cs/predictions/gpt-4o-mini-2024-07-18.csv.gz",
        "--grader",
        "pregraded",
        "--json",
    ],
    # The README's example.
    "cli.mmlu-pro.Yi-34B.json": [
        "demo/mmlu-pro/questions.csv.gz",
        "demo/mmlu-pro/predictions/Yi-34B.csv.gz",
        "--grader",
        "choice",
        "--targets",
        "0.5,0.75,0.9",
        "--json",
    ],
}


def pinned_path(name: str) -> Path:
    suffix = ".gz" if name.split(".", 1)[1] in COMPRESSED else ""
    return PINNED / f"{name}{suffix}"


def read_pinned(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def write_pinned(path: Path, data: bytes) -> None:
    if path.suffix == ".gz":
        # No timestamp in the header: the same bytes give the same file.
        data = gzip.compress(data, compresslevel=9, mtime=0)
    path.write_bytes(data)


def difference(name: str, expected: bytes, got: bytes) -> str:
    """Where the bytes first differ, and a diff of the JSON laid out one value a line."""
    at = next(
        (i for i, (a, b) in enumerate(zip(expected, got, strict=False)) if a != b),
        min(len(expected), len(got)),
    )
    lines = [
        f"{name}: {len(got):,} bytes, pinned {len(expected):,}; first difference at byte {at:,}",
        f"  pinned: {expected[max(0, at - 60) : at + 60]!r}",
        f"  got:    {got[max(0, at - 60) : at + 60]!r}",
    ]
    if name.endswith(".json"):
        try:
            a, b = (json.dumps(json.loads(x), indent=1).splitlines() for x in (expected, got))
        except ValueError:
            pass
        else:
            lines += list(difflib.unified_diff(a, b, "pinned", "got", n=2, lineterm=""))[:40]
    return "\n".join(lines)


def check(outputs: dict[str, bytes]) -> None:
    """Compare each output with its pinned file, or write the files with UPDATE_PINNED=1."""
    if UPDATE:
        PINNED.mkdir(exist_ok=True)
        for name, data in outputs.items():
            write_pinned(pinned_path(name), data)
        pytest.skip(f"UPDATE_PINNED=1: wrote {', '.join(outputs)} under {PINNED}")
    problems = []
    for name, data in outputs.items():
        path = pinned_path(name)
        if not path.is_file():
            problems.append(f"{name}: no pinned file {path.relative_to(ROOT)}")
            continue
        expected = read_pinned(path)
        if data != expected:
            problems.append(difference(name, expected, data))
    assert not problems, "\n\n".join(problems)


@pytest.mark.django_db(transaction=True, reset_sequences=True)
def test_it_serves_the_pinned_exports_of_the_demo_boards(client):
    call_command("seed_demo", stdout=io.StringIO())

    def fetch() -> dict[str, bytes]:
        outputs = {}
        for slug in DEMO_SLUGS:
            for export in EXPORTS:
                response = client.get(f"/benchmarks/{slug}/{export}")
                assert response.status_code == 200, (slug, export, response.content[:300])
                outputs[f"{slug}.{export}"] = response.content
        return outputs

    from django.contrib.auth.models import AnonymousUser

    from leaderboard import selectors
    from leaderboard.models import Benchmark

    # As computed after the last scoring (by a worker's task, should one be running: anonymous
    # readers are given the board before until it is done), then as a reader builds them with
    # nothing cached: the same.
    for benchmark in Benchmark.objects.filter(slug__in=DEMO_SLUGS):
        selectors.board_json(benchmark, AnonymousUser())
    served = fetch()
    cache.clear()
    built = fetch()
    for name in served:
        assert built[name] == served[name], difference(name, served[name], built[name])
    check(served)


@pytest.mark.parametrize("name", CLI_RUNS)
def test_it_prints_the_pinned_json_of_the_scoring_command(name):
    result = subprocess.run(
        [sys.executable, "-m", "scoring", *CLI_RUNS[name]],
        cwd=ROOT,
        capture_output=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr.decode()
    check({name: result.stdout})
