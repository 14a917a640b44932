"""Seeded generator of realistic CRM and ERP/webshop exports for the demo pipeline.

Customers are generated in fixed chunks of ``CHUNK``, vectorised with numpy/pyarrow. Chunk i draws from its
own stream ``SeedSequence(seed, spawn_key=(i + 1,))`` (0 is the catalogue), so files depend only on
(seed, customers, as_of) and memory stays bounded. The only state carried across chunks is id counters and
the e-mail uniqueness counter. Files are written under hidden temp names and renamed into place at the end.

This module only orchestrates: ``people``, ``sales`` and ``interactions`` build each chunk's columns from
the ``vocab`` arrays, and ``writers`` turns them into contract-typed files.

Money is generated in EUR (list prices, revenue, acquisition cost) and converted to the order currency with
``names.EUR_RATES``. Every timestamp is strictly before midnight starting ``as_of``, so never in the future.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from segments.demo import names as N
from segments.demo.common import DAY
from segments.demo.interactions import make_campaigns, make_interactions
from segments.demo.people import EmailCounter, make_accounts, make_contacts, make_customers
from segments.demo.sales import make_catalogue, make_orders
from segments.demo.vocab import vocab
from segments.demo.writers import Sink, arrow_schema
from segments.ingest.schemas import ENTITIES

__all__ = ["arrow_schema", "generate"]

CHUNK = 50_000


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stream,)))


def generate(
    out_dir: Path,
    customers: int,
    seed: int = 42,
    as_of: date | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Write demo CRM and ERP/webshop exports for ``customers`` CRM customers into ``out_dir``.

    Returns rows written per entity. Same (seed, customers, as_of) gives byte-identical files.
    """
    if customers < 1:
        raise ValueError("customers must be at least 1")
    as_of = as_of or date.today()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    E = (as_of - date(1970, 1, 1)).days * DAY  # midnight starting as_of: the exclusive upper bound
    say = progress or (lambda _msg: None)
    v, rng = vocab(), _rng(seed, 0)
    product_cols, cat = make_catalogue(rng, E)
    camp = make_campaigns(rng, E)
    st = SimpleNamespace(accounts=0, contacts=0, orders=0, lines=0, interactions=0, uniq=EmailCounter(),
                         org_offset=int(rng.integers(0, N.ORG_CAPACITY)))  # fmt: skip
    sinks = {name: Sink(out_dir, entity) for name, entity in ENTITIES.items()}
    try:
        sinks["sales_products"].write(product_cols)
        chunks = -(-customers // CHUNK)
        for i in range(chunks):
            n = min(CHUNK, customers - i * CHUNK)
            rng = _rng(seed, i + 1)
            cu = make_customers(rng, n, v, E)
            accounts, acc = make_accounts(rng, cu, v, st, as_of.year)
            contacts, pe = make_contacts(rng, cu, acc, v, st, E, as_of.year)
            orders, lines, od = make_orders(rng, cu, acc, pe, v, cat, st, E)
            interactions = make_interactions(rng, cu, pe, od, v, camp, st, E)
            for name, cols in (("crm_accounts", accounts), ("crm_contacts", contacts), ("sales_orders", orders),
                               ("sales_order_lines", lines), ("crm_interactions", interactions)):  # fmt: skip
                sinks[name].write(cols)
            say(f"chunk {i + 1}/{chunks}: {i * CHUNK + n:,}/{customers:,} customers")
        for sink in sinks.values():
            sink.close()
        for sink in sinks.values():
            os.replace(sink.tmp, sink.path)
            say(f"{sink.path.name}: {sink.rows:,} rows")
    except BaseException:
        for sink in sinks.values():
            sink.abort()
        raise
    return {name: sink.rows for name, sink in sinks.items()}
