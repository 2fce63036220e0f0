"""bench/results/latest.md holds the sync bench's and the side-by-side bench's results: neither run drops the other's."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from results_file import write_section


def test_each_bench_rewrites_only_its_own_section(tmp_path: Path) -> None:
    path = tmp_path / "latest.md"
    # The file as the sync bench used to leave it: its table unmarked at the top, the peers section after it.
    path.write_text(
        "# sync_bench results\n\nold sync table\n\n<!-- peers_bench:start -->\npeers v1\n<!-- peers_bench:end -->\n"
    )
    write_section(path, "# sync_bench results\n\nsync v2", "sync_bench", legacy_heading="# sync_bench results")
    text = path.read_text()
    assert "old sync table" not in text and "sync v2" in text and "peers v1" in text
    write_section(path, "peers v2", "peers_bench")
    write_section(path, "# sync_bench results\n\nsync v3", "sync_bench", legacy_heading="# sync_bench results")
    text = path.read_text()
    assert "sync v3" in text and "peers v2" in text
    assert "sync v2" not in text and "peers v1" not in text
    assert text.index("sync v3") < text.index("peers v2")  # the order in the file stays as it was


def test_a_new_file_gets_the_section(tmp_path: Path) -> None:
    path = tmp_path / "results" / "latest.md"
    write_section(path, "peers only", "peers_bench")
    assert path.read_text() == "<!-- peers_bench:start -->\npeers only\n<!-- peers_bench:end -->\n"
