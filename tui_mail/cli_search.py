"""The `search` and `reindex` subcommands: the query language over one account or all, optionally on the server."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime

from .accounts import AccountManager
from .config import Config
from .errors import MailError
from .index_later import index_all
from .mime import sanitize_line
from .models import MessageRow
from .search.query import QueryError, parse

EXIT_HITS, EXIT_NONE, EXIT_BAD_QUERY = 0, 1, 2


def _split_account(config: Config, words: Sequence[str]) -> tuple[list[str], str]:
    """`search work from:alice` searches account work; `search from:alice` every account."""
    names = [a.name for a in config.accounts]
    if len(words) >= 2 and words[0] in names:
        return [words[0]], " ".join(words[1:])
    return names, " ".join(words)


def cmd_search(
    manager: AccountManager, config: Config, words: Sequence[str], limit: int, as_json: bool, server: bool
) -> int:
    """Exit 0 with hits, 1 with none, 2 for a malformed query (one sentence on stderr)."""
    names, query = _split_account(config, words)
    try:
        parse(query)
    except QueryError as e:
        print(f"tui-mail: {e}", file=sys.stderr)
        return EXIT_BAD_QUERY
    hits: list[tuple[str, MessageRow, bool]] = []  # (account, row, found on the server only)
    for name in names:
        cache = manager.cache(name)
        index_all(cache)  # mail a sync left to the background indexer is found too (waits for it, or catches up)
        rows = {r.id: r for r in cache.window(None, 0, max(0, limit), query=query)}
        server_only: set[int] = set()
        if server and manager.capabilities(name).server_search:
            try:
                found = manager.server_search(name, query)
            except MailError as e:
                print(f"{name}: server search failed: {e}", file=sys.stderr)
            else:
                for note in found.notes:
                    print(f"{name}: {note}", file=sys.stderr)
                for mid in found.message_ids:
                    if mid not in rows and (row := cache.message(mid)) is not None:
                        rows[mid] = row
                        server_only.add(mid)
        hits.extend((name, r, r.id in server_only) for r in rows.values())
    hits.sort(key=lambda h: (h[1].date, h[1].id), reverse=True)
    hits = hits[: max(0, limit)]
    folder_names = {name: {f.id: f.name for f in manager.cache(name).folders()} for name in names}
    for name, row, on_server in hits:
        folder = folder_names[name].get(row.folder_id, "")
        if as_json:
            from .cli import row_json

            print(json.dumps(row_json(row, account=name, folder=folder, server=on_server), ensure_ascii=False))
        else:
            when = datetime.fromtimestamp(row.date).strftime("%Y-%m-%d %H:%M") if row.date else "-"
            where = sanitize_line(f"{name}/{folder}")
            print(f"{row.id}\t{where}\t{when}\t{sanitize_line(row.sender)}\t{sanitize_line(row.subject)}")
    return EXIT_HITS if hits else EXIT_NONE


def cmd_reindex(manager: AccountManager, config: Config, name: str | None) -> int:
    from .store.search_index import rebuild

    names = [name] if name else [a.name for a in config.accounts]
    for n in names:
        config.account(n)
    tty = sys.stderr.isatty()
    for n in names:
        rebuild(manager.cache(n))

        def show(done: int, total: int, n: str = n) -> None:
            if tty:
                sys.stderr.write(f"\r\x1b[K{n}: indexing {done:,}/{total:,}")
                sys.stderr.flush()

        count = manager.index(n, progress=show)
        if tty:
            sys.stderr.write("\r\x1b[K")
        print(f"{n}: {count:,} messages indexed")
    return 0
