"""The floors of bench/peers_bench.py: plain imapclient and poplib loops that download everything and keep nothing.

Run: python bench/peers_floor.py imapclient|imapclient-headers|poplib PORT USER PASSWORD
     python bench/peers_floor.py textual TEXT   (the start-up floor of a Textual UI: a bare App with one Label)
"""

from __future__ import annotations

import sys

CHUNK = 500


def imap(port: int, user: str, password: str, items: list[str]) -> int:
    """Log in, SELECT INBOX, UID FETCH items in chunks of explicit UIDs; returns the bytes received."""
    import imapclient

    client = imapclient.IMAPClient("127.0.0.1", port=port, ssl=False, timeout=120)
    client.login(user, password)
    client.select_folder("INBOX", readonly=True)
    uids = sorted(client.search())
    nbytes = 0
    for i in range(0, len(uids), CHUNK):
        for d in client.fetch(uids[i : i + CHUNK], items).values():
            nbytes += sum(len(v) for v in d.values() if isinstance(v, bytes))
    client.logout()
    return nbytes


def pop(port: int, user: str, password: str) -> int:
    """USER/PASS, UIDL, then RETR of every message; returns the bytes received."""
    import poplib

    client = poplib.POP3("127.0.0.1", port, timeout=120)
    client.user(user)
    client.pass_(password)
    client.uidl()
    count = len(client.list()[1])
    nbytes = 0
    for n in range(1, count + 1):
        _resp, _lines, octets = client.retr(n)
        nbytes += octets
    client.quit()
    return nbytes


def textual(text: str) -> None:
    """A bare Textual App that shows text in one Label: what any Textual UI pays before its own first screen."""
    from textual.app import App, ComposeResult
    from textual.widgets import Label

    class Floor(App[None]):
        def compose(self) -> ComposeResult:
            yield Label(text)

    Floor().run()


def main(argv: list[str]) -> int:
    if argv[0] == "textual":
        textual(argv[1])
        return 0
    kind, port, user, password = argv[0], int(argv[1]), argv[2], argv[3]
    if kind == "imapclient":
        imap(port, user, password, ["BODY.PEEK[]", "FLAGS"])
    elif kind == "imapclient-headers":
        imap(port, user, password, ["BODY.PEEK[HEADER]", "FLAGS", "RFC822.SIZE", "INTERNALDATE"])
    elif kind == "poplib":
        pop(port, user, password)
    else:
        print(f"unknown floor {kind!r}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
