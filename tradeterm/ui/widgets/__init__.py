"""The trading screen's widgets, one module per panel; each renders from the engine's
snapshot (``show_snapshot``): ladder, chart, log, position, risk, orders, tape, status.
``panel`` holds what the text panels share."""
