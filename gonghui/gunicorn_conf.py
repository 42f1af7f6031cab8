"""gunicorn settings for production: ``gunicorn -c python:gonghui.gunicorn_conf gonghui.wsgi``.

The benches start their server with this file too, so they measure what production runs.
Command-line options override it; the environment may set:

- ``GUNICORN_BIND`` (default ``127.0.0.1:8000``; the HTTPS proxy in front connects here):
  ``HOST:PORT``, ``HOST`` (port 8000), ``[IPv6]:PORT``, ``unix:PATH`` or ``fd://N``, several
  separated by commas (a port is 1 to 65535),
- ``GUNICORN_WORKERS`` (1 to 64; default: one process per CPU core, at most 64),
- ``GUNICORN_THREADS`` (1 to 256; default 4 per process),
- ``GUNICORN_WORKER_CONNECTIONS`` (1 to 100,000; default 10,000 per process; lowered, though
  not below 100, when the open-file hard limit is too low for it).

An empty (or blank) value means the default. A number is whole, unsigned and decimal; full-width
digits (``８``) are read as the digits they are (NFKC). Anything else stops gunicorn before it
starts with one line naming the variable, the value given and what is allowed (a ``SystemExit``:
gunicorn prints a configuration module's ``ValueError`` cleanly only when it is named with
``python:``, and with a traceback when it is given as a file path; ``SystemExit`` is clean both ways).

Each thread keeps one database connection (``CONN_MAX_AGE``). A voucher campaign's stock is one hot
row, whose throughput falls as connections grow, so keep workers x threads small (about 8 on two
cores) and add machines rather than threads.
"""

import os
import re
import unicodedata

from gonghui.core.limits import raise_open_file_limit

WORKERS_MAX = 64
THREADS_MAX = 256
WORKER_CONNECTIONS_MAX = 100_000


def env_int(name: str, *, default: int, maximum: int, minimum: int = 1) -> int:
    """The whole number in environment variable ``name`` (``default`` when unset or blank),
    else ``SystemExit`` with one line saying what is wrong."""
    raw = os.environ.get(name, "")
    text = unicodedata.normalize("NFKC", raw).strip()
    if not text:
        return default
    # At most nine digits: a longer number is out of range anyway (and int() of thousands of
    # digits is itself an error).
    if re.fullmatch(r"[0-9]{1,9}", text, flags=re.ASCII) and minimum <= int(text) <= maximum:
        return int(text)
    raise SystemExit(
        f"{name}={_shown(raw)} is not allowed: give a whole number from {minimum} to"
        f" {maximum:,}, or leave it empty for the default ({default:,})."
    )


def env_bind(name: str, *, default: str) -> list[str]:
    """The addresses to listen on, in gunicorn's forms (``HOST:PORT``, ``HOST``, ``[IPv6]:PORT``,
    ``unix:PATH``, ``fd://N``), several separated by commas; ``[default]`` when unset or blank,
    else ``SystemExit`` with one line saying what is wrong."""
    raw = os.environ.get(name, "")
    out = []
    for part in re.split(r"[,，]", raw):
        address = part.strip()
        # A socket path is taken as typed; in a network address full-width characters are read
        # as the ASCII ones they stand for.
        if not address.startswith("unix:"):
            address = unicodedata.normalize("NFKC", address).strip()
        if not address:
            continue
        if not _bind_ok(address):
            raise SystemExit(
                f"{name}={_shown(raw)} is not allowed: {_shown(address)} is not HOST:PORT with a"
                " port from 1 to 65535 (e.g. 127.0.0.1:8000 or [::1]:8000), unix:PATH or fd://N;"
                f" separate several with commas, or leave it empty for the default ({default})."
            )
        out.append(address)
    return out or [default]


def _shown(value: str) -> str:
    """``value`` quoted for a one-line message: control characters escaped, length capped."""
    return repr(value) if len(value) <= 60 else repr(value[:60]) + "..."


_HOST_PORT = re.compile(
    r"(?:tcp://)?(?:\[[0-9A-Fa-f:.]+(?:%[A-Za-z0-9_.-]+)?\]|[A-Za-z0-9_.-]+)(?::([0-9]{1,5}))?",
    flags=re.ASCII,
)


def _bind_ok(address: str) -> bool:
    if address.startswith("unix:"):
        path = address.removeprefix("unix:").removeprefix("//")
        return bool(path) and "\x00" not in path
    if address.startswith("fd://"):
        return re.fullmatch(r"fd://[0-9]{1,9}", address, flags=re.ASCII) is not None
    found = _HOST_PORT.fullmatch(address)
    if found is None:
        return False
    return found[1] is None or 1 <= int(found[1]) <= 65535


bind = env_bind("GUNICORN_BIND", default="127.0.0.1:8000")
worker_class = "gthread"
workers = env_int(
    "GUNICORN_WORKERS", default=min(os.cpu_count() or 2, WORKERS_MAX), maximum=WORKERS_MAX
)
threads = env_int("GUNICORN_THREADS", default=4, maximum=THREADS_MAX)
# Connections each process accepts and holds at once (idle keep-alive ones included). When
# thousands of phones press at once, they wait here in the order they came, and none is dropped
# for a full kernel queue. Each needs a file descriptor: the limit is raised to fit, and
# the count lowered if the hard limit is too low (an accept beyond it would stop the process).
_wanted = env_int("GUNICORN_WORKER_CONNECTIONS", default=10_000, maximum=WORKER_CONNECTIONS_MAX)
worker_connections = min(_wanted, max(100, raise_open_file_limit(_wanted + 512) - 512))
# Connections the kernel holds until a process accepts them (capped at net.core.somaxconn).
backlog = 4096
keepalive = 30
timeout = 120
graceful_timeout = 30
