"""Search: the query language, the FTS5 index kept with the cache, and queries over a known corpus."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest

from tui_mail.mime import parse_envelope
from tui_mail.models import FLAGGED, SEEN, Role
from tui_mail.search.query import And, DateRange, Flag, Not, Or, QueryError, SizeRange, Text, parse
from tui_mail.store import search_index
from tui_mail.store.cache import Cache, NewMessage

NOW = 1_795_000_000  # 2026-11-18


def raw_message(
    subject: str,
    body: str = "Hello.\n",
    sender: str = "Alice <alice@example.com>",
    to: str = "Bob <bob@example.org>",
    date: int = NOW,
    html: bool = False,
    attachment: str | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.fromtimestamp(date, UTC))
    msg["Message-ID"] = f"<{abs(hash((subject, date, body)))}@example.com>"
    msg.set_content(body, subtype="html" if html else "plain")
    if attachment:
        msg.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename=attachment)
    return msg.as_bytes()


@pytest.fixture
def corpus(tmp_path: Path) -> tuple[Cache, int, int]:
    cache = Cache(tmp_path / "work.sqlite3")
    cache.account = "work"
    inbox = cache.ensure_folder("INBOX", "/", Role.INBOX)
    sent = cache.ensure_folder("Sent", "/", Role.SENT)
    day = 86400
    msgs = [
        (raw_message("Trip to Zürich", "We meet in Zürich on Monday.", date=NOW - 1 * day), {SEEN}),
        (raw_message("ΕΛΛΗΝΙΚΆ νέα", "κείμενο στα ελληνικά", date=NOW - 2 * day), set()),
        (
            raw_message("Quarterly report", "<p>The <b>quarterly</b> numbers</p>", html=True, date=NOW - 40 * day),
            {SEEN},
        ),
        (
            raw_message(
                "Invoice",
                "See attached.",
                sender="Billing <billing@shop.example>",
                attachment="invoice-42.pdf",
                date=NOW - 400 * day,
            ),
            {SEEN, FLAGGED},
        ),
        (raw_message("Lunch?", "Pizza or sushi", sender="Carol <carol@example.net>", date=NOW - 3 * day), set()),
    ]
    for raw, flags in msgs:
        cache.store_messages(inbox, [NewMessage(parse_envelope(raw), flags=frozenset(flags), raw=raw)])
    reply = raw_message("Re: Lunch?", "Sushi, of course", sender="Me <me@example.org>", to="carol@example.net")
    cache.store_messages(sent, [NewMessage(parse_envelope(reply), flags=frozenset({SEEN}), raw=reply)])
    assert search_index.index_pending(cache) == 6
    return cache, inbox, sent


def subjects(cache: Cache, folder: int | None, query: str) -> list[str]:
    return sorted(r.subject for r in cache.window(folder, 0, 100, query=query))


# -- the language ---------------------------------------------------------------------------------------------------


def test_parser_builds_the_tree() -> None:
    assert parse("a b") == And((Text("a"), Text("b")))
    assert parse("a OR b") == Or((Text("a"), Text("b")))
    assert parse("-from:alice") == Not(Text("alice", "from"))
    assert parse('"big news"') == Text("big news", phrase=True)
    assert parse("repo*") == Text("repo", prefix=True)
    assert parse("is:unread") == Flag("unread")
    assert parse("larger:1M") == SizeRange(above=1024 * 1024)
    assert parse("newer_than:7d", now=NOW) == DateRange(start=NOW - 7 * 86400)
    assert parse("(a OR b) c") == And((Or((Text("a"), Text("b"))), Text("c")))
    assert parse("http://x.org/y") == Text("http://x.org/y")  # an unknown field is just text


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('subject:"unclosed', "Unclosed quote at column 9."),
        ("(a OR b", "Unclosed parenthesis at column 1."),
        ("a)", "Unmatched ')' at column 2."),
        ("OR", "OR at column 1 needs something on both sides."),
        ("a OR", "OR at column 3 needs something on both sides."),
        ("is:purple", "is:purple at column 1"),
        ("after:2024-13-01", "not a real date"),
        ("date:yesterday", "write the date as YYYY-MM-DD"),
        ("older_than:soon", "write an age like 7d"),
        ("larger:big", "write a size like 50k"),
        ("", "The query is empty."),
        ("x" * 10_001, "too long"),
    ],
)
def test_malformed_queries_get_one_sentence_with_the_place(query: str, message: str) -> None:
    with pytest.raises(QueryError) as e:
        parse(query)
    assert message in str(e.value)
    assert str(e.value).endswith(".")


# -- over the corpus ------------------------------------------------------------------------------------------------


def test_words_phrases_prefix_and_diacritics(corpus: tuple[Cache, int, int]) -> None:
    cache, inbox, _ = corpus
    assert subjects(cache, inbox, "zurich") == ["Trip to Zürich"]
    assert subjects(cache, inbox, "ZÜRICH monday") == ["Trip to Zürich"]
    assert subjects(cache, inbox, "ελληνικά") == ["ΕΛΛΗΝΙΚΆ νέα"]  # case and accents folded, Greek included
    assert subjects(cache, inbox, '"meet in zurich"') == ["Trip to Zürich"]
    assert subjects(cache, inbox, '"zurich meet"') == []
    assert subjects(cache, inbox, "quart*") == ["Quarterly report"]
    assert subjects(cache, inbox, "numbers") == ["Quarterly report"]  # text of the HTML body


def test_fields_flags_attachments_and_negation(corpus: tuple[Cache, int, int]) -> None:
    cache, inbox, _ = corpus
    assert subjects(cache, inbox, "from:billing@shop.example") == ["Invoice"]
    assert subjects(cache, inbox, "from:carol") == ["Lunch?"]
    assert subjects(cache, inbox, "to:bob subject:lunch") == ["Lunch?"]
    assert subjects(cache, inbox, "filename:invoice-42.pdf") == ["Invoice"]
    assert subjects(cache, inbox, "has:attachment") == ["Invoice"]
    assert subjects(cache, inbox, "is:flagged") == ["Invoice"]
    assert subjects(cache, inbox, "is:unread") == ["Lunch?", "ΕΛΛΗΝΙΚΆ νέα"]
    assert subjects(cache, inbox, "is:unread -from:carol") == ["ΕΛΛΗΝΙΚΆ νέα"]
    assert subjects(cache, inbox, "sushi OR zurich") == ["Lunch?", "Trip to Zürich"]
    assert subjects(cache, inbox, "(sushi OR zurich) is:read") == ["Trip to Zürich"]


def test_dates_and_sizes(corpus: tuple[Cache, int, int]) -> None:
    cache, inbox, _ = corpus
    year = time.gmtime(NOW - 400 * 86400).tm_year
    assert "Invoice" in subjects(cache, inbox, f"date:{year}")
    assert subjects(cache, inbox, "older_than:1y") == ["Invoice"]
    assert subjects(cache, inbox, "smaller:1") == []
    assert len(subjects(cache, inbox, "larger:10")) == 5


def test_in_and_account_widen_to_the_whole_account(corpus: tuple[Cache, int, int]) -> None:
    cache, inbox, _ = corpus
    assert subjects(cache, inbox, "sushi") == ["Lunch?"]  # the folder on screen only
    assert subjects(cache, inbox, "sushi in:sent") == ["Re: Lunch?"]
    assert subjects(cache, inbox, "sushi (in:sent OR in:inbox)") == ["Lunch?", "Re: Lunch?"]
    assert subjects(cache, None, "sushi") == ["Lunch?", "Re: Lunch?"]
    assert subjects(cache, inbox, "sushi account:work") == ["Lunch?", "Re: Lunch?"]
    assert subjects(cache, inbox, "sushi account:home") == []


@pytest.mark.parametrize(
    "query",
    [
        '"',
        "*",
        "NEAR(a b)",
        "-",
        ":",
        "a:b:c",
        "AND",
        "NOT",
        "^x",
        "'; DROP TABLE messages; --",
        '"a" "b',
        "x" * 5000,
        "\x00",
        "subject:*",
        'col:"x"',
        "{subject}:x",
    ],
)
def test_hostile_queries_never_reach_fts_as_syntax(corpus: tuple[Cache, int, int], query: str) -> None:
    cache, inbox, _ = corpus
    try:
        cache.window(inbox, 0, 10, query=query)
        cache.count(inbox, query)
    except QueryError:
        pass  # one sentence for the user; anything else (sqlite3.OperationalError) fails the test
    assert cache.count(inbox) == 5


def test_index_follows_move_delete_and_late_bodies(corpus: tuple[Cache, int, int]) -> None:
    cache, inbox, sent = corpus
    (row,) = cache.window(inbox, 0, 10, query="zurich")
    cache.move([row.id], sent)
    assert subjects(cache, inbox, "zurich") == []
    assert subjects(cache, sent, "zurich") == ["Trip to Zürich"]
    cache.delete([row.id])
    assert subjects(cache, None, "zurich") == []
    # A header-only message is found by its headers at once and by its body once the body arrives.
    raw = raw_message("Headers first", "the secret word is marmalade")
    env = parse_envelope(raw)
    (mid,) = cache.store_messages(inbox, [NewMessage(env, uid=77, flags=frozenset())], uidvalidity=1)
    search_index.index_pending(cache)
    assert subjects(cache, inbox, "headers") == ["Headers first"]
    assert subjects(cache, inbox, "marmalade") == []
    cache.store_bodies([(mid, raw, env)])
    assert search_index.backlog(cache) == 1
    search_index.index_pending(cache)
    assert subjects(cache, inbox, "marmalade") == ["Headers first"]


def test_rebuild_and_a_cache_from_before_search_is_indexed_in_the_background(corpus: tuple[Cache, int, int]) -> None:
    cache, inbox, _ = corpus
    search_index.rebuild(cache)
    assert search_index.backlog(cache) == 6
    assert subjects(cache, inbox, "zurich") == []
    seen: list[tuple[int, int]] = []
    assert search_index.index_pending(cache, progress=lambda d, t: seen.append((d, t))) == 6
    assert seen[-1] == (6, 6)
    assert subjects(cache, inbox, "zurich") == ["Trip to Zürich"]


def test_a_large_backlog_is_rendered_by_worker_processes(
    corpus: tuple[Cache, int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    cache, inbox, _ = corpus
    search_index.rebuild(cache)
    monkeypatch.setattr(search_index, "PARALLEL_FROM", 1)
    monkeypatch.setattr(search_index.os, "cpu_count", lambda: 2)
    assert search_index.index_pending(cache) == 6
    assert subjects(cache, inbox, "numbers") == ["Quarterly report"]  # body text rendered in another process
