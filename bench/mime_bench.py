"""MIME timing: envelope parse (sync time) and reader render, median/p99 per message, over the malformed fixtures
and a generated corpus; and reader-then-forward of a ~2.9 MB nested message. Prints figures, asserts nothing.

    .venv/bin/python bench/mime_bench.py                    # 10,000 generated messages
    .venv/bin/python bench/mime_bench.py --messages 2000 --repo /path/to/other/checkout   # compare another tree
"""

from __future__ import annotations

import argparse
import base64
import importlib
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def _stats(times: list[float]) -> str:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"median {statistics.median(ordered) * 1e6:9.0f} us   p99 {p99 * 1e6:9.0f} us   total {sum(ordered):7.2f} s"


def _time_each(fn: Callable[[bytes], object], messages: list[bytes], before: Callable[[], None]) -> list[float]:
    out: list[float] = []
    for raw in messages:
        before()
        start = time.perf_counter()
        fn(raw)
        out.append(time.perf_counter() - start)
    return out


def nested_message(target: int = 2_900_000) -> bytes:
    """multipart/mixed holding a big HTML newsletter, forwarded messages (each with its own attachments) and binary parts."""
    blob = base64.encodebytes(bytes(range(256)) * 1200).replace(b"\n", b"\r\n")  # ~410 KB encoded

    def attachment(name: str) -> bytes:
        return (
            f'Content-Type: application/octet-stream; name="{name}"\r\n'
            f'Content-Disposition: attachment; filename="{name}"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        ).encode() + blob

    def mixed(boundary: str, parts: list[bytes], head: bytes = b"") -> bytes:
        out = head + f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'.encode()
        for p in parts:
            out += f"--{boundary}\r\n".encode() + p + b"\r\n"
        return out + f"--{boundary}--\r\n".encode()

    text = b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + b"Some text of the forwarded message.\r\n" * 40
    inner = mixed(
        "inner", [text, attachment("inner-1.bin"), attachment("inner-2.bin")], b"From: b@example.com\r\nSubject: in\r\n"
    )
    forwarded = b"Content-Type: message/rfc822\r\n\r\n" + inner
    rows = "".join(
        f"<tr><td>row {i}</td><td><a href='https://example.com/{i}'>link {i}</a></td></tr>" for i in range(6000)
    )
    html = f"<html><body><p>Newsletter</p><table>{rows}</table></body></html>".encode()
    parts = [b"Content-Type: text/html; charset=utf-8\r\n\r\n" + html, forwarded, forwarded]
    n = 0
    while sum(map(len, parts)) < target:
        parts.append(attachment(f"outer-{n}.bin"))
        n += 1
    return mixed(
        "outer", parts, b"From: a@example.com\r\nTo: me@example.org\r\nSubject: nested\r\nMIME-Version: 1.0\r\n"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--messages", "-n", type=int, default=10_000, help="generated messages (default 10000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repo", default=str(REPO), help="checkout whose tui_mail is measured (default: this one)")
    args = ap.parse_args(argv)
    sys.path.insert(0, args.repo)
    sys.path.insert(1, str(HERE))
    sys.path.insert(2, str(REPO / "tests" / "fixtures"))
    mime = importlib.import_module("tui_mail.mime")  # before sync_bench, so the --repo checkout is the one measured
    import make_malformed
    from sync_bench import generate

    def clear() -> None:  # every render below is a first parse (the package keeps the last few parses)
        recent = getattr(getattr(mime, "render", None), "_RECENT", None)
        if recent is not None:
            recent.clear()

    print(f"tui_mail from {Path(mime.__file__).parent}")
    fixtures = [p.read_bytes() for p in sorted((REPO / "tests" / "fixtures" / "malformed").glob("*.eml"))]
    fixtures += [make_malformed.deep_nesting(300), make_malformed.huge_header(1024 * 1024)]
    fixtures += [make_malformed.big_attachment(2 * 1024 * 1024)]
    corpus = [g.raw.replace(b"\n", b"\r\n") for g in generate(args.messages, args.seed, "bench@example.test")]
    print(f"fixtures: {len(fixtures)} messages; corpus: {len(corpus)} generated messages (seed {args.seed})")
    for label, messages, rounds in (("fixtures", fixtures, 20), ("corpus", corpus, 1)):
        env: list[float] = []
        ren: list[float] = []
        for _ in range(rounds):
            env += _time_each(mime.parse_envelope, messages, lambda: None)
            ren += _time_each(mime.render_message, messages, clear)
        print(f"{label:9} parse_envelope  {_stats(env)}")
        print(f"{label:9} render_message  {_stats(ren)}")

    big = nested_message()
    runs: list[float] = []
    forwards: list[float] = []
    for _ in range(5):
        clear()
        start = time.perf_counter()
        mime.render_message(big)
        mid = time.perf_counter()
        draft = mime.forward_draft(big)
        runs.append(time.perf_counter() - start)
        forwards.append(time.perf_counter() - mid)
    print(
        f"nested {len(big) / 1e6:.1f} MB, {len(draft.attachments)} attachments: render+forward median "
        f"{statistics.median(runs):.3f} s (forward alone {statistics.median(forwards):.3f} s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
