"""Build the offline demo mailbox: two accounts whose caches are filled from generated and shipped messages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.base64mime import body_encode
from email.header import Header
from email.utils import format_datetime, formataddr
from pathlib import Path

from .config import AccountConfig, Config, Pop3Options, ServerConfig
from .mime import parse_envelope
from .models import ANSWERED, FLAGGED, SEEN, Role
from .store.cache import Cache, NewMessage

SHIPPED_DIR = Path(__file__).with_name("demo")
START = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
UIDVALIDITY = 20261101

ME_WORK = ("Sam Carter", "sam@acme.example")
ME_HOME = ("Sam Carter", "sam@home.example")
PRIYA = ("Priya Raman", "priya@acme.example")
JONAS = ("Jonas Berg", "jonas@acme.example")
MEI = ("Mei Tanaka", "mei@acme.example")
OLU = ("Olu Adeyemi", "olu@acme.example")
CI = ("CI Bot", "ci@builds.acme.example")
JUERGEN = ("Jürgen Müller", "juergen@zuerich.example")
HR = ("People Team", "people@acme.example")
MUM = ("Mum", "mum@family.example")
BANK = ("Example Bank", "statements@bank.example")
BOOKS = ("Riverside Book Club", "club@books.example")
LANDLORD = ("Helen Ortiz", "helen@lettings.example")
DENTIST = ("Smile Dental", "no-reply@dental.example")

WORK_FOLDERS: tuple[tuple[str, Role], ...] = (
    ("INBOX", Role.INBOX),
    ("Drafts", Role.DRAFTS),
    ("Sent", Role.SENT),
    ("Trash", Role.TRASH),
    ("Archive", Role.ARCHIVE),
    ("Projects/tui-mail", Role.NONE),
)
HOME_FOLDERS: tuple[tuple[str, Role], ...] = (
    ("INBOX", Role.INBOX),
    ("Drafts", Role.DRAFTS),
    ("Sent", Role.SENT),
    ("Trash", Role.TRASH),
)


@dataclass(frozen=True, slots=True)
class _Spec:
    """One generated demo message."""

    key: str
    folder: str
    hours: float  # after START
    sender: tuple[str, str]
    to: Sequence[tuple[str, str]]
    subject: str
    body: str
    flags: str = ""  # letters: s seen, f flagged, a answered
    reply_to: str = ""  # key of the parent message
    cc: Sequence[tuple[str, str]] = ()
    attachment: tuple[str, str, bytes] | None = None  # (filename, mime type, content)


_BUDGET_CSV = (
    b"item,q3,q4\r\nservers,1200,1350\r\nci minutes,310,420\r\nconference,0,1800\r\nbooks,45,60\r\ntotal,1555,3630\r\n"
)

WORK: tuple[_Spec, ...] = (
    # Thread: release plan (five messages, two branches).
    _Spec(
        "rel-1",
        "INBOX",
        2,
        PRIYA,
        [ME_WORK, JONAS],
        "Release plan for tui-mail 1.0",
        "Hi all,\n\nI'd like to cut 1.0 on 20 November. Open items:\n\n  1. offline queue replay\n"
        "  2. POP3 leave-on-server\n  3. screenshots for the README\n\nObjections by Wednesday, please.\n\nPriya",
        "sa",
    ),
    _Spec(
        "rel-2",
        "INBOX",
        5.5,
        JONAS,
        [PRIYA, ME_WORK],
        "Re: Release plan for tui-mail 1.0",
        "> I'd like to cut 1.0 on 20 November.\n\nWorks for me. I can take the offline queue replay.\n\nJonas",
        "s",
        reply_to="rel-1",
    ),
    _Spec(
        "rel-3",
        "Sent",
        7,
        ME_WORK,
        [PRIYA, JONAS],
        "Re: Release plan for tui-mail 1.0",
        "I'll do the screenshots and the demo mailbox.\n\n> Objections by Wednesday, please.\n\nSam",
        "s",
        reply_to="rel-1",
    ),
    _Spec(
        "rel-4",
        "INBOX",
        26,
        PRIYA,
        [JONAS, ME_WORK],
        "Re: Release plan for tui-mail 1.0",
        "> Works for me. I can take the offline queue replay.\n\nGreat, thanks Jonas. Sam, the demo sounds perfect.\n",
        "s",
        reply_to="rel-2",
    ),
    _Spec(
        "rel-5",
        "INBOX",
        30,
        MEI,
        [PRIYA, JONAS, ME_WORK],
        "Re: Release plan for tui-mail 1.0",
        "Late to the party: POP3 leave-on-server is done, PR is up.\n\n> 2. POP3 leave-on-server\n\nMei",
        "",
        reply_to="rel-4",
    ),
    # Thread: flaky test.
    _Spec(
        "flaky-1",
        "INBOX",
        50,
        OLU,
        [ME_WORK],
        "Flaky test in the sync engine",
        "test_resume_after_crash fails about once in twenty runs on CI. Log attached below:\n\n"
        "    AssertionError: expected last_uid 42, got 41\n\nAny idea?\nOlu",
        "sa",
    ),
    _Spec(
        "flaky-2",
        "Sent",
        52,
        ME_WORK,
        [OLU],
        "Re: Flaky test in the sync engine",
        "> expected last_uid 42, got 41\n\nLooks like the cursor is written outside the transaction. "
        "I'll move it in.\n",
        "s",
        reply_to="flaky-1",
    ),
    _Spec(
        "flaky-3",
        "INBOX",
        54,
        OLU,
        [ME_WORK],
        "Re: Flaky test in the sync engine",
        "> I'll move it in.\n\nThat fixed it: 500 runs, no failures. Thank you!\n",
        "sf",
        reply_to="flaky-2",
    ),
    _Spec(
        "flaky-4",
        "INBOX",
        75,
        CI,
        [ME_WORK],
        "Re: Flaky test in the sync engine",
        "Pipeline #4821 passed (main, 3m 12s).\n",
        "s",
        reply_to="flaky-3",
    ),
    # Thread: lunch.
    _Spec(
        "lunch-1",
        "INBOX",
        97,
        MEI,
        [ME_WORK, OLU, JONAS],
        "Lunch on Friday?",
        "Ramen place on 5th at 12:30? Reply by Thursday.\n",
        "s",
    ),
    _Spec(
        "lunch-2",
        "INBOX",
        98,
        JONAS,
        [MEI, ME_WORK, OLU],
        "Re: Lunch on Friday?",
        "> Ramen place on 5th\n\nIn!\n",
        "s",
        reply_to="lunch-1",
    ),
    _Spec(
        "lunch-3",
        "INBOX",
        101,
        OLU,
        [MEI, ME_WORK, JONAS],
        "Re: Lunch on Friday?",
        "> In!\n\nMe too, but I'll be 10 minutes late.\n",
        "",
        reply_to="lunch-2",
    ),
    # Attachment.
    _Spec(
        "budget",
        "INBOX",
        120,
        PRIYA,
        [ME_WORK],
        "Q4 budget draft",
        "Hi Sam,\n\nThe Q4 budget draft is attached (CSV). The conference line is new.\n\nPriya",
        "sf",
        attachment=("budget-q4.csv", "text/csv", _BUDGET_CSV),
    ),
    # Non-ASCII.
    _Spec(
        "gruss",
        "INBOX",
        145,
        JUERGEN,
        [ME_WORK],
        "Grüße aus Zürich — Überprüfung der Übersetzung",
        "Hallo Sam,\n\ndie deutsche Übersetzung ist fertig: „Posteingang“, „Entwürfe“, „Papierkorb“.\n"
        "Bitte prüfe die Umlaute: ä ö ü ß — und die Emoji 📬✉️.\n\n日本語のテストも含めました：受信トレイ。\n\n"
        "Viele Grüße\nJürgen",
        "",
    ),
    # Loose messages.
    _Spec(
        "review-1",
        "INBOX",
        170,
        JONAS,
        [ME_WORK],
        "Review request: virtual message list",
        "Could you review the ScrollView-based list? It renders only visible rows from a small LRU.\n",
        "sa",
    ),
    _Spec(
        "review-2",
        "Sent",
        172,
        ME_WORK,
        [JONAS],
        "Re: Review request: virtual message list",
        "> It renders only visible rows\n\nLooks good, two small comments inline.\n",
        "s",
        reply_to="review-1",
    ),
    _Spec(
        "review-3",
        "INBOX",
        190,
        JONAS,
        [ME_WORK],
        "Re: Review request: virtual message list",
        "> two small comments inline\n\nAddressed both, merged. Thanks!\n",
        "",
        reply_to="review-2",
    ),
    _Spec(
        "hr",
        "INBOX",
        200,
        HR,
        [ME_WORK],
        "Reminder: submit your holiday requests",
        "Please submit your December holiday requests by 25 November.\n",
        "s",
    ),
    _Spec(
        "ci-fail",
        "INBOX",
        230,
        CI,
        [ME_WORK],
        "Pipeline #4907 failed (feature/compose)",
        "Job 'ui-tests' failed after 1m 48s.\n\n    tests/ui/test_compose.py::test_send FAILED\n",
        "",
    ),
    _Spec(
        "ci-ok", "INBOX", 233, CI, [ME_WORK], "Pipeline #4910 passed (feature/compose)", "All 212 tests passed.\n", "s"
    ),
    _Spec(
        "design-1",
        "INBOX",
        260,
        MEI,
        [ME_WORK, PRIYA],
        "Keybindings: mutt or vim?",
        "Proposal: j/k to move, r reply, R reply-all, d delete, s flag, / search. Thoughts?\n",
        "sa",
    ),
    _Spec(
        "design-2",
        "INBOX",
        262,
        PRIYA,
        [MEI, ME_WORK],
        "Re: Keybindings: mutt or vim?",
        "> j/k to move, r reply\n\n+1, and make them all remappable.\n",
        "s",
        reply_to="design-1",
    ),
    _Spec(
        "design-3",
        "Sent",
        266,
        ME_WORK,
        [MEI, PRIYA],
        "Re: Keybindings: mutt or vim?",
        "> make them all remappable\n\nAgreed, via a [keymap] table in the config.\n",
        "s",
        reply_to="design-2",
    ),
    _Spec(
        "design-4",
        "INBOX",
        300,
        MEI,
        [ME_WORK, PRIYA],
        "Re: Keybindings: mutt or vim?",
        "> via a [keymap] table in the config\n\nPerfect. I'll write the help screen.\n",
        "",
        reply_to="design-3",
    ),
    _Spec(
        "security",
        "INBOX",
        340,
        OLU,
        [ME_WORK],
        "Security review notes",
        "Passwords live in the keyring only; TLS verification stays on. Untrusted text is rendered inert.\n",
        "sf",
    ),
    _Spec(
        "standup",
        "INBOX",
        420,
        PRIYA,
        [ME_WORK, JONAS, MEI, OLU],
        "Stand-up moved to 10:15",
        "Just this week. Same room.\n",
        "",
    ),
    _Spec(
        "retro",
        "INBOX",
        470,
        JONAS,
        [ME_WORK],
        "Retro notes",
        "What went well: the cache. What didn't: flaky CI.\n",
        "",
    ),
    # Drafts.
    _Spec(
        "draft-1",
        "Drafts",
        480,
        ME_WORK,
        [PRIYA],
        "Re: Q4 budget draft",
        "Hi Priya,\n\nThe conference line looks fine. One question about",
        "s",
        reply_to="budget",
    ),
    # Sent (loose).
    _Spec(
        "sent-1",
        "Sent",
        150,
        ME_WORK,
        [JUERGEN],
        "Re: Grüße aus Zürich — Überprüfung der Übersetzung",
        "Danke Jürgen, sieht gut aus!\n",
        "s",
        reply_to="gruss",
    ),
    _Spec("sent-2", "Sent", 205, ME_WORK, [HR], "Holiday request 22-31 December", "Please book me off. Thanks!\n", "s"),
    # Trash.
    _Spec(
        "trash-1",
        "Trash",
        60,
        ("Prize Department", "win@lottery.example"),
        [ME_WORK],
        "You have WON!!!",
        "Click here to claim.\n",
        "s",
    ),
    _Spec("trash-2", "Trash", 180, CI, [ME_WORK], "Pipeline #4700 cancelled", "Cancelled by Jonas.\n", "s"),
    # Archive.
    _Spec("arch-1", "Archive", 1, HR, [ME_WORK], "Welcome to Acme!", "Your laptop arrives on Monday.\n", "s"),
    _Spec("arch-2", "Archive", 3, OLU, [ME_WORK], "Onboarding checklist", "1. keyring\n2. VPN\n3. coffee\n", "s"),
    _Spec("arch-3", "Archive", 8, PRIYA, [ME_WORK], "Q3 retrospective", "We shipped the cache. Well done all.\n", "sf"),
    _Spec("arch-4", "Archive", 12, MEI, [ME_WORK], "Conference talk accepted", "We're presenting in March!\n", "s"),
    # Project folder (a thread plus loose messages).
    _Spec(
        "proj-1",
        "Projects/tui-mail",
        40,
        JONAS,
        [ME_WORK],
        "IDLE support",
        "IMAP IDLE is in; polling stays as the fallback.\n",
        "s",
    ),
    _Spec(
        "proj-2",
        "Projects/tui-mail",
        44,
        ME_WORK,
        [JONAS],
        "Re: IDLE support",
        "> polling stays as the fallback\n\nNice. Does it reconnect after sleep?\n",
        "s",
        reply_to="proj-1",
    ),
    _Spec(
        "proj-3",
        "Projects/tui-mail",
        46,
        JONAS,
        [ME_WORK],
        "Re: IDLE support",
        "> Does it reconnect after sleep?\n\nYes, within 30 seconds.\n",
        "s",
        reply_to="proj-2",
    ),
    _Spec(
        "proj-4",
        "Projects/tui-mail",
        360,
        MEI,
        [ME_WORK],
        "Screenshots for the README",
        "Five SVGs: main, reader, compose, account switch, help.\n",
        "",
    ),
    _Spec(
        "proj-5",
        "Projects/tui-mail",
        380,
        PRIYA,
        [ME_WORK],
        "Benchmark numbers",
        "100k messages: first paint well under a second. Moving 1,000 rows costs the same as at 100.\n",
        "f",
    ),
)

HOME: tuple[_Spec, ...] = (
    _Spec("mum-1", "INBOX", 20, MUM, [ME_HOME], "Sunday lunch", "Roast at 1? Bring the dog.\nLove, Mum", "sa"),
    _Spec(
        "mum-2",
        "Sent",
        22,
        ME_HOME,
        [MUM],
        "Re: Sunday lunch",
        "> Bring the dog.\n\nWe'll be there!\n",
        "s",
        reply_to="mum-1",
    ),
    _Spec(
        "mum-3",
        "INBOX",
        23,
        MUM,
        [ME_HOME],
        "Re: Sunday lunch",
        "> We'll be there!\n\nLovely x\n",
        "s",
        reply_to="mum-2",
    ),
    _Spec(
        "bank-1",
        "INBOX",
        70,
        BANK,
        [ME_HOME],
        "Your November statement is ready",
        "Your statement for account ending 0042 is ready in online banking.\n",
        "s",
    ),
    _Spec(
        "books-1",
        "INBOX",
        110,
        BOOKS,
        [ME_HOME],
        "December pick: The Left Hand of Darkness",
        "Meeting on 3 December at the library, 7pm.\n",
        "f",
    ),
    _Spec(
        "rent-1",
        "INBOX",
        160,
        LANDLORD,
        [ME_HOME],
        "Boiler service on Tuesday",
        "The engineer will come between 9 and 12. Please leave the key with the neighbour.\n",
        "s",
    ),
    _Spec(
        "dentist",
        "INBOX",
        250,
        DENTIST,
        [ME_HOME],
        "Appointment reminder: 2 December, 09:40",
        "Reply C to confirm.\n",
        "",
    ),
    _Spec(
        "mum-4",
        "INBOX",
        400,
        MUM,
        [ME_HOME],
        "Photos from the weekend",
        "The dog in the leaves — attached!\n",
        "",
        attachment=("dog-in-leaves.txt", "text/plain", b"(imagine a very happy dog here)\n"),
    ),
    _Spec(
        "books-2", "INBOX", 500, BOOKS, [ME_HOME], "Reminder: club fees", "£12 for the year, by bank transfer.\n", ""
    ),
    _Spec(
        "home-draft",
        "Drafts",
        505,
        ME_HOME,
        [BOOKS],
        "Re: Reminder: club fees",
        "Paid today —",
        "s",
        reply_to="books-2",
    ),
    _Spec(
        "home-trash",
        "Trash",
        90,
        ("Deals", "deals@shop.example"),
        [ME_HOME],
        "50% off everything",
        "Today only.\n",
        "s",
    ),
)

# Shipped raw messages: file name -> (account, folder, flags).
SHIPPED: dict[str, tuple[str, str, str]] = {
    "hostile.eml": ("work", "INBOX", ""),
    "newsletter.eml": ("work", "INBOX", ""),
}


def _message_id(key: str, domain: str) -> str:
    return f"<{key}@{domain}>"


def _header(value: str) -> str:
    """An unstructured header value, RFC 2047-encoded when it is not plain ASCII."""
    return value if value.isascii() else Header(value, "utf-8").encode(linesep="\r\n")


def _text_part(body: str) -> str:
    encoded = body_encode(body.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8"))
    return (
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + encoded
        if not body.isascii()
        else "Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
        + body.replace("\n", "\r\n")
    )


def _render(spec: _Spec, by_key: dict[str, _Spec], domain: str) -> bytes:
    """A deterministic RFC 5322 message for one spec (built by hand: the email package's header registry is
    too slow for a demo that must build in a blink)."""
    lines = [
        f"From: {formataddr(spec.sender)}",
        "To: " + ", ".join(formataddr(a) for a in spec.to),
    ]
    if spec.cc:
        lines.append("Cc: " + ", ".join(formataddr(a) for a in spec.cc))
    lines += [
        f"Subject: {_header(spec.subject)}",
        f"Date: {format_datetime(START + timedelta(hours=spec.hours))}",
        f"Message-ID: {_message_id(spec.key, domain)}",
    ]
    if spec.reply_to:
        chain: list[str] = []
        parent: _Spec | None = by_key[spec.reply_to]
        while parent is not None:
            chain.insert(0, _message_id(parent.key, domain))
            parent = by_key.get(parent.reply_to) if parent.reply_to else None
        lines.append(f"In-Reply-To: {chain[-1]}")
        lines.append("References: " + " ".join(chain))
    lines.append("MIME-Version: 1.0")
    head = "\r\n".join(lines) + "\r\n"
    if spec.attachment is None:
        return (head + _text_part(spec.body)).encode("ascii")
    name, mime_type, data = spec.attachment
    boundary = f"==demo-{spec.key}=="
    return (
        f'{head}Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\n{_text_part(spec.body)}\r\n"
        f'--{boundary}\r\nContent-Type: {mime_type}; name="{name}"\r\n'
        f'Content-Disposition: attachment; filename="{name}"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        f"{body_encode(data)}\r\n--{boundary}--\r\n"
    ).encode("ascii")


def _flags(letters: str) -> frozenset[str]:
    table = {"s": SEEN, "f": FLAGGED, "a": ANSWERED}
    return frozenset(table[c] for c in letters)


def _cache_file(data_dir: Path, account: str) -> Path:
    """Same file-name rule as tui_mail.paths.cache_path, under an explicit directory."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in account) or "account"
    return data_dir / f"{safe}.sqlite3"


def _fill(
    path: Path,
    folders: Sequence[tuple[str, Role]],
    specs: Sequence[_Spec],
    shipped: Sequence[tuple[bytes, str, str]],
    *,
    domain: str,
    pop3: bool,
) -> int:
    """Write one account's cache; returns the number of messages stored."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    cache = Cache(path)
    try:
        ids: dict[str, int] = {}
        for name, role in folders:
            # POP3 folders are all local (as the AccountManager creates them): flags and moves never go upstream.
            ids[name] = cache.ensure_folder(name, "/", role, local_only=pop3)
        by_key = {s.key: s for s in specs}
        per_folder: dict[str, list[tuple[bytes, frozenset[str], str]]] = {name: [] for name, _ in folders}
        for spec in specs:
            per_folder[spec.folder].append((_render(spec, by_key, domain), _flags(spec.flags), spec.key))
        for raw, folder, letters in shipped:
            per_folder[folder].append((raw, _flags(letters), ""))
        total = 0
        for name, role in folders:
            items = [(parse_envelope(raw, len(raw)), raw, flags, key) for raw, flags, key in per_folder[name]]
            items.sort(key=lambda item: (item[0].date, item[0].message_id))
            server_folder = not pop3 or role is Role.INBOX
            msgs = [
                NewMessage(
                    envelope=env,
                    uid=(n + 1) if server_folder and not pop3 else None,
                    flags=flags,
                    raw=raw,
                    pop_uidl=f"demo-{key or n}" if pop3 and server_folder else None,
                )
                for n, (env, raw, flags, key) in enumerate(items)
            ]
            if server_folder and not pop3:
                cache.store_messages(ids[name], msgs, uidvalidity=UIDVALIDITY, last_uid=len(msgs))
            else:
                cache.store_messages(ids[name], msgs)
            total += len(msgs)
        from .store.search_index import index_pending

        index_pending(cache)  # the demo is searchable from the first keystroke
        return total
    finally:
        cache.close()


def _account_configs() -> tuple[AccountConfig, AccountConfig]:
    work = AccountConfig(
        name="work",
        email=ME_WORK[1],
        display_name=ME_WORK[0],
        protocol="imap",
        incoming=ServerConfig(host="imap.acme.demo.invalid", port=993, security="tls", username=ME_WORK[1]),
        smtp=ServerConfig(host="smtp.acme.demo.invalid", port=465, security="tls", username=ME_WORK[1]),
    )
    home = AccountConfig(
        name="home",
        email=ME_HOME[1],
        display_name=ME_HOME[0],
        protocol="pop3",
        incoming=ServerConfig(host="pop.home.demo.invalid", port=995, security="tls", username=ME_HOME[1]),
        smtp=ServerConfig(host="smtp.home.demo.invalid", port=587, security="starttls", username=ME_HOME[1]),
        pop3=Pop3Options(leave_on_server=True),
    )
    return work, home


def build_demo(data_dir: Path) -> Config:
    """Create the demo caches (work.sqlite3, home.sqlite3) in data_dir, replacing old ones; returns their Config.

    Deterministic: the same messages, dates, flags and ids every time. Sets nothing global; the caller points
    TUI_MAIL_DATA_DIR at data_dir and opens an offline AccountManager.
    """
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    work, home = _account_configs()
    shipped: dict[str, list[tuple[bytes, str, str]]] = {"work": [], "home": []}
    for file_name, (account, folder, letters) in sorted(SHIPPED.items()):
        shipped[account].append(((SHIPPED_DIR / file_name).read_bytes(), folder, letters))
    _fill(_cache_file(data_dir, work.name), WORK_FOLDERS, WORK, shipped["work"], domain="acme.example", pop3=False)
    _fill(_cache_file(data_dir, home.name), HOME_FOLDERS, HOME, shipped["home"], domain="home.example", pop3=True)
    return Config(path=None, accounts=(work, home))
