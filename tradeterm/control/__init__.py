"""Instance control: every running instance (the screen and the console, through
``runtime.open_runtime``) serves a Unix socket that ``tradeterm status`` and ``tradeterm
kill`` talk to.

* ``place.py``: the private directory the sockets live in (the user runtime dir, owner-only,
  mode 0700) and one socket per market and mode, ``<SYMBOL>.<mode>.sock``, claimed by a
  ``flock`` on ``<SYMBOL>.<mode>.lock`` held for the instance's life: a second instance of
  the same market and mode is refused naming the pid of the first, and a socket whose lock
  nobody holds is stale (its process is gone) and removed. Beside it, the locks of one
  trading instance per market per gateway (``<SYMBOL>@<host>:<port>.lock``) and per IB
  account (``<SYMBOL>@<account>.lock``, once connected).
* ``protocol.py``: one JSON object per line each way; what an instance says of itself
  (``status_of``) and of a kill switch run (``kill_outcome``).
* ``endpoint.py``: the instance's side: socket 0600, every peer's uid checked (SO_PEERCRED),
  other users refused.
* ``client.py``: finds the instances, asks each (concurrently), removes stale sockets.
"""
