"""The control plane's tables (a migration of ``migrations.py``; read and written only by
``tradeterm/control/plane_rows.py``, which describes them) and what the writer role may do
with them (``roles.py``).

Heartbeat and answer times are the database server's (``now()``): one clock for every host,
so a heartbeat's age never depends on a host's clock.
"""

from __future__ import annotations

from typing import LiteralString

PLANE: LiteralString = """
CREATE TABLE tradeterm.heartbeats (
    name text PRIMARY KEY,
    host text NOT NULL,
    symbol text NOT NULL,
    mode text NOT NULL,
    pid integer NOT NULL,
    started_at timestamptz NOT NULL,
    beat_at timestamptz NOT NULL,
    beat_s double precision NOT NULL CHECK (beat_s > 0),
    status jsonb NOT NULL,
    handled_command bigint NOT NULL DEFAULT 0,
    stopped_at timestamptz
);
CREATE TABLE tradeterm.commands (
    id bigserial PRIMARY KEY,
    kind text NOT NULL CHECK (kind = 'kill'),
    reason text NOT NULL CHECK (reason <> ''),
    timeout_s double precision NOT NULL CHECK (timeout_s > 0),
    issued_at timestamptz NOT NULL DEFAULT now(),
    issued_by text NOT NULL,
    targets text[] NOT NULL
);
CREATE TABLE tradeterm.outcomes (
    command_id bigint NOT NULL REFERENCES tradeterm.commands,
    name text NOT NULL,
    answered_at timestamptz NOT NULL,
    flat boolean NOT NULL,
    answer jsonb NOT NULL,
    PRIMARY KEY (command_id, name)
);
"""

PLANE_GRANTS: tuple[LiteralString, ...] = (
    # an instance beats and answers; status --shared and kill --all --shared read and write
    "GRANT SELECT, INSERT, UPDATE ON tradeterm.heartbeats TO {role}",
    "GRANT SELECT, INSERT ON tradeterm.commands TO {role}",
    "GRANT USAGE ON SEQUENCE tradeterm.commands_id_seq TO {role}",
    "GRANT SELECT, INSERT, UPDATE ON tradeterm.outcomes TO {role}",
)
