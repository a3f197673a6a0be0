"""The trading screen (Textual). The engine never imports this package; this package talks
to the engine only through its public API (``Engine.submit``, ``listen``, ``snapshot``,
``rearm``, ``request_kill``)."""
