"""Settings of the server ``gonghui bench redeem`` starts for its floor run: the platform's
settings, with the floor view routed (``gonghui.bench.server_urls``). Nothing else differs."""

from gonghui.settings import *  # noqa: F403

ROOT_URLCONF = "gonghui.bench.server_urls"
