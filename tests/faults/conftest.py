"""Fixtures of the fault-injection suite: accounts run as subprocesses, a tally of points tried and failures."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.harness import FaultAccount
from tests.servers import Dovecot, MailUser

# scenario -> [points tried, failures]
TALLY: dict[str, list[int]] = {}
# figures measured on the way (printed, never asserted)
FIGURES: list[str] = []


def tally(scenario: str, points: int = 1, failures: int = 0) -> None:
    """Count fault points tried (and how many broke an invariant) for the closing summary."""
    entry = TALLY.setdefault(scenario, [0, 0])
    entry[0] += points
    entry[1] += failures


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The large variant (10k messages, hundreds of points) runs only when asked for with -m faults_large."""
    if "faults_large" in (config.option.markexpr or ""):
        return
    skip = pytest.mark.skip(reason="large fault run: select it with -m faults_large")
    for item in items:
        if "faults_large" in item.keywords:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("fault injection: figures")
        for line in FIGURES:
            terminalreporter.write_line(line)
    if not TALLY:
        return
    terminalreporter.section("fault injection: points tried / failures")
    for scenario, (points, failures) in sorted(TALLY.items()):
        terminalreporter.write_line(f"{scenario:<48} {points:>5} points  {failures:>4} failures")
    total = [sum(v[0] for v in TALLY.values()), sum(v[1] for v in TALLY.values())]
    terminalreporter.write_line(f"{'total':<48} {total[0]:>5} points  {total[1]:>4} failures")


AccountFactory = Callable[..., FaultAccount]


@pytest.fixture
def make_account(tmp_path: Path) -> Iterator[AccountFactory]:
    """make_account(server, protocol="imap", user=None, **kw): a fresh user (unless given) and its account."""
    made = 0

    def make(server: Dovecot, protocol: str = "imap", user: MailUser | None = None, **kw: Any) -> FaultAccount:
        nonlocal made
        made += 1
        return FaultAccount(server, user or server.add_user(), tmp_path / f"acct{made}", protocol=protocol, **kw)

    yield make
