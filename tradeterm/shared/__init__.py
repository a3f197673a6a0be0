"""The shared PostgreSQL database (``[shared] url``): one place that sees every instance.

SQLite stays each instance's journal and source of truth; PostgreSQL gets a copy of its rows,
shipped in the background (``shipper.py``), never in the path of an order. ``target.py`` turns
the settings into a connection (the password from the environment or a 0600 file, never
logged), ``migrations.py`` is the schema and its runner, ``roles.py`` the least-privilege
writer role an administrator creates.

Driver: psycopg 3 (``psycopg[binary]``): native asyncio, typed, libpq's own URL, ``.pgpass``
and SSL handling, LISTEN/NOTIFY as an async iterator.
"""
