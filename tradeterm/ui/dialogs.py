"""Modal screens: help, quit confirmation, LIVE account confirmation, re-arm, kill switch, a
start that failed (in a browser)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from tradeterm.engine.events import KillProgress, OrderView
from tradeterm.engine.types import KillStep
from tradeterm.ui.keys import ACTIONS, KILL, display_key
from tradeterm.ui.styles import resolve


def help_text(keymap: dict[str, str], presets: list[int]) -> Text:
    """Every key in force (``keymap``: :func:`~tradeterm.ui.keys.check_keymap`'s), the digit
    keys as far as there are quantity ``presets``."""
    t = Text()
    t.append("tradeterm keys", style="bold")
    t.append('   (change them in [ui.keymap] of the config: id = "key")\n')
    group = ""
    for a in (KILL, *ACTIONS):
        n = int(a.id[4:]) if a.id.startswith("qty_") and a.id[4:].isdigit() else None
        if n is not None and n > len(presets):
            continue  # not bound
        if a.group != group:
            group = a.group
            t.append(f"\n{group}\n", style="bold underline")
        desc = a.description if n is None else f"quantity {presets[n - 1]}"
        t.append(f"  {display_key(keymap.get(a.id, a.key)):<16}", style="bold $accent")
        t.append(f"{desc}")
        t.append(f"  [{a.id}]\n", style="dim")
    t.append("\nTrading keys do nothing while DISARMED. The kill switch works armed or not.\n")
    t.append("Limits and stops at the cursor must rest: one that would trade or trigger at once\n")
    t.append("when it reaches the engine is refused, whatever the market did meanwhile.\n")
    t.append("Ladder: own buys on the bid side, sells on the ask side (qty + L limit, S stop);\n")
    t.append("◆ marks the average price; the yellow row is the last trade with its size.\n")
    return t


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90; max-width: 100%; height: 90%; border: thick $primary;
        background: $surface; padding: 0 1; }
    """

    def __init__(self, keymap: dict[str, str], presets: list[int]) -> None:
        super().__init__()
        self.keymap, self.presets = keymap, presets

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(resolve(help_text(self.keymap, self.presets), self.app), id="help-text")
            yield Label("Esc closes", classes="hint")


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS = [Binding("y", "answer(True)", "yes"), Binding("n,escape", "answer(False)", "no")]
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical { width: 64; max-width: 100%; height: auto; border: thick $warning;
        background: $surface; padding: 1 2; }
    """

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question, id="question")
            yield Label("[b]y[/b] yes    [b]n[/b] / Esc no")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class NotStartedScreen(ModalScreen[None]):
    """Why the screen could not start, shown until a key closes it: in a browser tab, where
    the line a terminal gets on exit goes nowhere (the page would only say the session
    ended)."""

    BINDINGS = [Binding("escape,enter,q", "dismiss", "close")]
    DEFAULT_CSS = """
    NotStartedScreen { align: center middle; }
    NotStartedScreen > Vertical { width: 76; max-width: 100%; height: auto;
        border: thick $error; background: $surface; padding: 1 2; }
    NotStartedScreen #not-started-title { color: $error; text-style: bold; }
    NotStartedScreen #not-started-close { margin-top: 1; }
    """

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("tradeterm could not start", id="not-started-title")
            yield Static(Text(self.reason), id="not-started-reason")
            yield Label("Enter or Esc closes", id="not-started-close")


class TypedScreen(ModalScreen[str | None]):
    """Asks for typed text; ``check`` returns an error to show (the dialog stays) or None."""

    BINDINGS = [Binding("escape", "cancel", "cancel")]
    DEFAULT_CSS = """
    TypedScreen { align: center middle; }
    TypedScreen > Vertical { width: 70; max-width: 100%; height: auto; border: thick $error;
        background: $surface; padding: 1 2; }
    TypedScreen #error { color: $error; }
    """

    def __init__(self, title: str, prompt: str, check: Callable[[str], str | None],
                 placeholder: str = "") -> None:  # fmt: skip
        super().__init__()
        self.title_text, self.prompt, self.check = title, prompt, check
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.title_text, style="bold"))
            yield Static(self.prompt)
            yield Input(placeholder=self.placeholder, id="typed")
            yield Static("", id="error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        error = self.check(text)
        if error:
            self.query_one("#error", Static).update(error)
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)


class KillScreen(ModalScreen[None]):
    """Every step of the kill switch as it happens; ends in HALTED (or FAILED, saying what is
    left). UNVERIFIED (HALTED, IB silent about an order of ours) stays until IB answers. The
    position and working orders are shown as they are now (:meth:`show_now`, each repaint),
    not as they were at some step."""

    BINDINGS = [Binding("escape,enter", "close", "close")]
    DEFAULT_CSS = """
    KillScreen { align: center middle; }
    KillScreen > Vertical { width: 76; max-width: 100%; height: auto; border: thick $error;
        background: $surface; padding: 1 2; }
    KillScreen #kill-title { color: $error; text-style: bold; }
    """

    def __init__(self, arm_key: str = "a") -> None:
        super().__init__()
        self.arm_key = arm_key  # the arm key in force, named in the HALTED line
        self.steps: list[KillProgress] = []
        self.done: KillProgress | None = None
        self.now = ""  # the position and working orders as last shown

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("KILL SWITCH", id="kill-title")
            yield Static("requested…", id="kill-steps")
            yield Static("", id="kill-now")
            yield Static("", id="kill-end")

    def show_now(self, position: int, orders: Sequence[OrderView]) -> None:
        unconfirmed = sum(1 for o in orders if o.unconfirmed)
        text = f"now: position {position}, working {len(orders)}" + (
            f" ({unconfirmed} unconfirmed by IB)" if unconfirmed else ""
        )
        if text != self.now:  # repainted only when it changed
            self.now = text
            self.query_one("#kill-now", Static).update(text)

    def add(self, progress: KillProgress) -> None:
        self.steps.append(progress)
        t = Text()
        for p in self.steps:
            mark = "✔" if p.done and p.ok else "✘" if p.done else "•"
            t.append(f"{mark} {p.step:<11}", style="bold")
            t.append(f" {p.detail}\n")
        self.query_one("#kill-steps", Static).update(t)
        if progress.step is KillStep.UNVERIFIED:  # not the end: it keeps asking IB
            end = Text()
            end.append(" HALTED — UNVERIFIED ", style="bold reverse $error")
            end.append(f"  IB has not answered: {progress.detail}. Still asking IB; "
                       "nothing more is sent.")  # fmt: skip
            self.query_one("#kill-end", Static).update(resolve(end, self.app))
        if progress.done:
            self.done = progress
            end = Text()
            if progress.ok:
                end.append(" HALTED ", style="bold reverse $error")
                end.append(
                    f"  flat at the broker, nothing working. Re-arm with '{self.arm_key}' "
                    "(typed reason)."
                )
            else:
                end.append(" HALTED — NOT FLAT ", style="bold reverse $error")
                end.append(f"  {progress.detail}")
            end.append("\nEnter / Esc closes")
            self.query_one("#kill-end", Static).update(resolve(end, self.app))

    def action_close(self) -> None:
        self.dismiss(None)
