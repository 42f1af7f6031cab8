"""Deployment checks of the benefits app (``gonghui check --deploy``)."""

from __future__ import annotations

from typing import Any

import redis
from django.conf import settings
from django.core import checks


@checks.register("gonghui", deploy=True)
def redis_keeps_every_key(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """With ``REDIS_URL``, Redis must not evict keys when its memory is full.

    The grab keeps a campaign's sold-out flag and its winners' markers there, and the fast
    path its stock and holders. A Redis that evicts (an ``allkeys-*`` or ``volatile-*`` policy)
    can drop a winner's marker and keep the flag, read on every "all taken" answer: that winner's
    next tap is then told "all taken". Every key the platform writes expires by itself."""
    if not settings.REDIS_URL:
        return []
    from gonghui.benefits.fastpath import client

    try:
        policy = client().config_get("maxmemory-policy").get("maxmemory-policy")
    except redis.ResponseError as error:  # CONFIG switched off (many managed services)
        return [
            checks.Warning(
                f"Could not read Redis's maxmemory-policy ({error}).",
                hint="Make sure it is noeviction (the Redis default).",
                id="gonghui.W002",
            )
        ]
    except redis.RedisError as error:
        return [
            checks.Warning(
                f"Could not reach Redis at REDIS_URL ({error}).",
                hint="The platform works without it, slower; the grab's fast path is off.",
                id="gonghui.W003",
            )
        ]
    if policy != "noeviction":
        return [
            checks.Error(
                f"Redis evicts keys when its memory is full (maxmemory-policy {policy}).",
                hint=(
                    "Set maxmemory-policy noeviction: an evicted winner marker makes the grab "
                    "tell a winner the vouchers are all taken."
                ),
                id="gonghui.E001",
            )
        ]
    return []
