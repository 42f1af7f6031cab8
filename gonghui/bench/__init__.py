"""Benchmarks run by ``gonghui bench <name>``; each is a module with ``add_arguments`` and ``run``.

``import_`` measures the member import; the voucher work adds ``grab``,
``spike`` (thousands pressing at once) and ``redeem``.
"""

BENCHES = {
    "import": "gonghui.bench.import_",
    "grab": "gonghui.bench.grab",
    "redeem": "gonghui.bench.redeem",
    "spike": "gonghui.bench.spike",
}


def positive_int(raw: str) -> int:
    """argparse type for counts: a whole number of at least 1 (full-width digits accepted)."""
    import argparse
    import unicodedata

    from django.utils.translation import gettext as _

    text = unicodedata.normalize("NFKC", raw).strip()
    if not text.isdigit() or int(text) < 1 or int(text) > 100_000_000:
        raise argparse.ArgumentTypeError(
            _("%(value)r is not a whole number between 1 and 100000000.") % {"value": raw[:40]}
        )
    return int(text)
