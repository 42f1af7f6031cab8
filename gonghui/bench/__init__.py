"""Benchmarks run by ``gonghui bench <name>``; each is a module with ``add_arguments`` and ``run``.

``import_`` measures the member import; the voucher work adds ``grab`` and ``redeem``.
"""

BENCHES = {
    "import": "gonghui.bench.import_",
    "grab": "gonghui.bench.grab",
    "redeem": "gonghui.bench.redeem",
}
