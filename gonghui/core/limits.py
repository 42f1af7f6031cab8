"""Process limits (standard library only: gunicorn's configuration imports this before Django)."""

from __future__ import annotations

import resource


def raise_open_file_limit(wanted: int) -> int:
    """Raise this process's open-file limit towards ``wanted`` (never above the hard limit, never
    lowered); return the soft limit now in force. Child processes inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft if soft != resource.RLIM_INFINITY else wanted
