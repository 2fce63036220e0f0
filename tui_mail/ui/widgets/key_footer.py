"""The footer: Textual's, made compact on narrow terminals so the keys that matter (^s Send, esc Close) still fit."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

NARROW = 100  # below this width: compact keys, the ones that matter first, no command-palette hint
FIRST = ("send", "cancel")  # actions listed first when narrow


class KeyFooter(Footer):
    """A Footer that fits 80 columns (and 50 in compose)."""

    def on_mount(self) -> None:
        self._fit(self.app.size.width)

    def on_resize(self, event: events.Resize) -> None:
        self._fit(self.app.size.width)

    def _fit(self, width: int) -> None:
        narrow = width < NARROW
        if narrow != self.compact:
            self.compact = narrow
            self.show_command_palette = not narrow
            self.refresh(recompose=True)

    def compose(self) -> ComposeResult:
        if not self.compact:
            yield from super().compose()
            return
        if not self._bindings_ready:
            return
        by_action: dict[str, tuple[Binding, bool, str]] = {}
        for _node, binding, enabled, tooltip in self.screen.active_bindings.values():
            if binding.show and binding.action not in by_action:
                by_action[binding.action] = (binding, enabled, tooltip)
        order = sorted(by_action, key=lambda a: FIRST.index(a) if a in FIRST else len(FIRST))
        for action in order:
            binding, enabled, tooltip = by_action[action]
            yield FooterKey(
                binding.key,
                self.app.get_key_display(binding),
                binding.description,
                binding.action,
                disabled=not enabled,
                tooltip=tooltip,
            ).data_bind(compact=Footer.compact)
