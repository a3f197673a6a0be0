"""Notifications: the engine's events a trader away from the screen must hear of, sent to
apprise channels (ntfy, Discord, Slack, Telegram, e-mail, a JSON webhook) and rung on the
terminal bell.

The runtime builds one :class:`Notifier` per instance (``[notify]`` in the config) and
attaches it to the engine as it attaches the journal: it reads its own event stream, so the
screen and the console notify alike and the engine knows nothing of it. ``alerts.py`` says
which events notify and in what words; ``channel.py`` sends them, each channel from its own
bounded queue in a background thread, retried with backoff, never in the engine's way.
"""

from tradeterm.notify.alerts import Alert, Watcher
from tradeterm.notify.notifier import Notifier

__all__ = ["Alert", "Notifier", "Watcher"]
