"""The trading screen (Textual). The engine never imports this package; this package talks
to the engine only through its public API (``Engine.start``, ``submit``, ``listen``,
``snapshot``, ``rearm``, ``request_kill``): everything the screen shows is in the snapshot
(tests/unit/ui/test_engine_api.py checks it)."""
