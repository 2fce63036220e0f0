"""Which LISTed folder is Sent/Drafts/Trash/...: SPECIAL-USE first, well-known names for the roles left unmarked."""

from __future__ import annotations

from tui_mail.backends.imap_folders import list_entries
from tui_mail.models import Role


def roles(listing: list[tuple[list[bytes], bytes, str]]) -> dict[str, Role]:
    return {name: role for name, _sep, role, _sel in list_entries(listing)}


def test_unmarked_roles_fall_back_to_names_but_marked_ones_do_not() -> None:
    got = roles(
        [
            ([b"\\HasNoChildren"], b"/", "INBOX"),
            ([b"\\Sent"], b"/", "Gesendet"),
            ([], b"/", "Sent Messages"),  # the server marks its Sent folder: a look-alike is just a folder
            ([], b"/", "Deleted Items"),  # no folder is marked \Trash: the name decides
        ]
    )
    assert got == {
        "INBOX": Role.INBOX,
        "Gesendet": Role.SENT,
        "Sent Messages": Role.NONE,
        "Deleted Items": Role.TRASH,
    }


def test_names_under_the_personal_prefix_without_special_use() -> None:
    got = roles([([], b".", "INBOX"), ([], b".", "INBOX.Sent"), ([], b".", "INBOX.Spam"), ([], b".", "INBOX.Work")])
    assert got == {"INBOX": Role.INBOX, "INBOX.Sent": Role.SENT, "INBOX.Spam": Role.JUNK, "INBOX.Work": Role.NONE}


def test_noselect_folders_are_listed_but_not_selectable() -> None:
    [(name, sep, role, selectable)] = list_entries([([b"\\Noselect", b"\\HasChildren"], b"/", "Projects")])
    assert (name, sep, role, selectable) == ("Projects", "/", Role.NONE, False)
