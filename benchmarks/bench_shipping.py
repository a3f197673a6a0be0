"""``python benchmarks/bench_shipping.py [--help]``: the benchmark lives in tradeterm.bench.shipping;
this script gives it a database: ``--url``, or a throwaway PostgreSQL server started from the
local binaries (the tests' own, tests/support/postgres.py), which it also stops for the
runs with the database down."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.postgres import SKIP_REASON, started_server
from tradeterm.bench.shipping import bench, parser


def main() -> None:
    args = parser().parse_args()
    if args.url:
        bench(args, args.url)
        return
    with started_server() as server:
        if server is None:
            sys.exit(SKIP_REASON)
        server.create_database("bench")
        bench(args, server.url("bench"), (lambda: server.stop("immediate"), server.start))


if __name__ == "__main__":
    main()
