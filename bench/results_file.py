"""bench/results/latest.md is shared by several benches: each writes only its own marked section and keeps the rest."""

from __future__ import annotations

from pathlib import Path


def write_section(path: Path, text: str, name: str, legacy_heading: str | None = None) -> None:
    """Write text into path between `<!-- {name}:start -->` and `<!-- {name}:end -->`, keeping what other benches
    wrote there. legacy_heading: a file that starts with it holds this bench's unmarked output from before the
    markers, up to the first other section; that part is replaced (nothing else is lost)."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{text.strip()}\n{end}\n"
    old = path.read_text() if path.exists() else ""
    if start in old and end in old:
        new = old[: old.index(start)] + block + old[old.index(end) + len(end) :].lstrip("\n")
    elif legacy_heading and old.startswith(legacy_heading):
        rest = old.find("<!-- ")
        new = block + ("\n" + old[rest:] if rest >= 0 else "")
    elif old.strip():
        new = old.rstrip("\n") + "\n\n" + block
    else:
        new = block
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new)
