"""Command-palette providers: switching to an account by name."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from .widgets.safe_text import clean_line

if TYPE_CHECKING:
    from .app import MailApp


class AccountProvider(Provider):
    """Command-palette entries that switch to an account."""

    def _entries(self) -> list[tuple[int, str, str]]:
        app = cast("MailApp", self.app)
        return [(i, f"Switch to account {clean_line(a.name)}", clean_line(a.email)) for i, a in enumerate(app.accounts)]

    async def discover(self) -> Hits:
        app = cast("MailApp", self.app)
        for i, text, help_text in self._entries():
            yield DiscoveryHit(text, partial(app.switch_account, i), text=text, help=help_text)

    async def search(self, query: str) -> Hits:
        app = cast("MailApp", self.app)
        matcher = self.matcher(query)
        for i, text, help_text in self._entries():
            score = max(matcher.match(text), matcher.match(help_text))
            if score > 0:
                yield Hit(score, matcher.highlight(text), partial(app.switch_account, i), text=text, help=help_text)
