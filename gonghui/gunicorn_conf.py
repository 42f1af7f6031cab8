"""gunicorn settings for production: ``gunicorn -c python:gonghui.gunicorn_conf gonghui.wsgi``.

The benches start their server with this file too, so they measure what production runs.
Command-line options override it; the environment may set:

- ``GUNICORN_BIND`` (default ``127.0.0.1:8000``; the HTTPS proxy in front connects here),
- ``GUNICORN_WORKERS`` (default: one process per CPU core),
- ``GUNICORN_THREADS`` (default 4 per process),
- ``GUNICORN_WORKER_CONNECTIONS`` (default 10,000 per process).

Each thread keeps one database connection (``CONN_MAX_AGE``). A voucher campaign's stock is one hot
row, whose throughput falls as connections grow, so keep workers x threads small (about 8 on two
cores) and add machines rather than threads.
"""

import os

from gonghui.core.limits import raise_open_file_limit

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
worker_class = "gthread"
workers = int(os.environ.get("GUNICORN_WORKERS") or os.cpu_count() or 2)
threads = int(os.environ.get("GUNICORN_THREADS") or 4)
# Connections each process accepts and holds at once (idle keep-alive ones included). When
# thousands of phones press at once, they wait here in the order they came, and none is dropped
# for a full kernel queue. Each needs a file descriptor: the limit is raised to fit, and
# the count lowered if the hard limit is too low (an accept beyond it would stop the process).
_wanted = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS") or 10_000)
worker_connections = max(100, min(_wanted, raise_open_file_limit(_wanted + 512) - 512))
# Connections the kernel holds until a process accepts them (capped at net.core.somaxconn).
backlog = 4096
keepalive = 30
timeout = 120
graceful_timeout = 30
