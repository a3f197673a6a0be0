"""``python benchmarks/bench_shipping.py [--help]``: the benchmark lives in tradeterm.bench.shipping;
this script gives it a database: ``--url``, or a throwaway PostgreSQL server started from the
local binaries (the tests' own, tests/support/postgres.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.postgres import SKIP_REASON, PostgresServer, find_bindir
from tradeterm.bench.shipping import bench, parser


def main() -> None:
    args = parser().parse_args()
    if args.url:
        bench(args, args.url)
        return
    bindir = find_bindir()
    if bindir is None:
        sys.exit(SKIP_REASON)
    server = PostgresServer(bindir)
    try:
        server.start()
        server.create_database("bench")
        bench(args, server.url("bench"))
    finally:
        server.destroy()


if __name__ == "__main__":
    main()
