"""The ERP/webshop side: the product catalogue, order headers and order lines (with returns)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from segments.demo import names as N
from segments.demo.common import (
    CATALOGUE,
    DAY,
    HISTORY,
    decimals,
    grouped,
    padded_ids,
    pick,
    take,
    time_of_day,
    timestamps,
    uint,
    zipf,
)
from segments.demo.people import B2B, B2C, GUEST
from segments.ingest.schemas import PRODUCT_CATEGORIES, SALES_CHANNELS

REF_ACCOUNT, REF_CONTACT, EMAIL_ONLY, ORG_ONLY = 0, 1, 2, 3
WEB, REP, PARTNER = (SALES_CHANNELS.index(c) for c in ("webshop", "sales_rep", "partner"))


def make_catalogue(rng: np.random.Generator, E: int) -> tuple[dict, SimpleNamespace]:
    rows = [(ci, line, noun + var, med * (1 + 0.6 * j))
            for ci, cat in enumerate(PRODUCT_CATEGORIES) for line, (med, nouns, variants) in N.PRODUCT_LINES[cat].items()
            for noun in nouns for j, var in enumerate(variants)]  # fmt: skip
    n = len(rows)
    # ~35% predate the order history, so every order date has products on sale; ~1/6 launched this year.
    ago = np.where(rng.random(n) < 0.35, uint(rng, HISTORY + 1, CATALOGUE, n), uint(rng, 0, HISTORY, n))
    price = np.array([r[3] for r in rows]) * np.exp(rng.normal(0.0, 0.35, n))
    cents = np.where(price < 100, np.floor(price) * 100 + 90, np.round(price / 10) * 1000).astype(np.int64)
    perm = np.argsort(-ago, kind="stable")  # ERP ids follow launch order
    cat_idx, ago, cents = np.array([r[0] for r in rows])[perm], ago[perm], cents[perm]
    ids = padded_ids("P", 0, n, 4)
    cols = {"product_id": ids, "name": pa.array([rows[i][2] for i in perm]),
            "category": take(pa.array(PRODUCT_CATEGORIES), cat_idx), "product_line": pa.array([rows[i][1] for i in perm]),
            "launch_date": pa.array((E // DAY - ago).astype(np.int32), type=pa.date32()), "list_price": decimals(cents)}  # fmt: skip
    pop = zipf(n, 0.5)[rng.permutation(n)]
    pref = np.array([[0.70, 0.18, 0.05, 0.07], [0.30, 0.30, 0.20, 0.20]])  # consumer / business by category
    weights = []
    for seg, alpha in ((0, 0.6), (1, 0.2)):  # consumers shy away from expensive items more
        w = pop * (cents / 100.0) ** -alpha
        w = w / np.bincount(cat_idx, w, minlength=4)[cat_idx] * pref[seg, cat_idx]
        weights.append(w)
    legacy = ago > HISTORY
    cat = SimpleNamespace(ids=ids, cents=cents, ago=ago, n=n, cdf=grouped(weights),
                          legacy=grouped([w * legacy for w in weights]))  # fmt: skip
    return cols, cat


def _products(
    rng: np.random.Generator, cat: SimpleNamespace, seg: np.ndarray, days_ago: np.ndarray
) -> np.ndarray:
    """Products for order lines, only ones launched on or before the order date."""
    p = pick(rng, cat.cdf, seg, cat.n)
    for attempt in range(4):
        bad = np.flatnonzero(cat.ago[p] < days_ago)
        if len(bad) == 0:
            break
        p[bad] = pick(rng, cat.legacy if attempt == 3 else cat.cdf, seg[bad], cat.n)
    return p


def make_orders(rng, cu, acc, pe, v, cat, st, E: int):
    """Order headers and lines; ~4.5% of purchases get a later return order with negative quantities."""
    oc = np.repeat(np.arange(cu.m), cu.n_ord)
    No = len(oc)
    rank = np.arange(No) - (np.cumsum(cu.n_ord) - cu.n_ord)[oc]
    F, L, kind = cu.F[oc], cu.L[oc], cu.kind[oc]
    days = np.where(rank == 0, F, np.where(rank == cu.n_ord[oc] - 1, L, uint(rng, L, F)))
    b2b = kind == B2B
    # No order precedes first_ts, from which created_at was derived.
    ts = np.maximum(E - days * DAY + time_of_day(rng, b2b), cu.first_ts[oc])
    chan = np.where(b2b, rng.choice([WEB, REP, PARTNER], No, p=[0.20, 0.55, 0.25]), WEB)
    person = pe.start[oc] + (rng.random(No) ** 1.5 * pe.n_p[oc]).astype(np.int64)  # B2B: mostly the primary
    u = rng.random(No)
    mode = np.select([kind == GUEST, kind == B2C], [EMAIL_ONLY, np.where(u < 0.08, EMAIL_ONLY, REF_CONTACT)],
                     np.where(u < 0.02, ORG_ONLY, np.where(u < 0.12, REF_CONTACT, REF_ACCOUNT)))  # fmt: skip
    mode = np.where(b2b & (chan == WEB) & (mode != ORG_ONLY) & (rng.random(No) < 0.08), EMAIL_ONLY, mode)
    ret = np.flatnonzero(rng.random(No) < 0.045)
    # A return stays inside the customer's lifecycle window so it never changes the state.
    window_end = E - np.array([0, 0, 180, 366])[cu.state[oc[ret]]] * DAY - 1
    room = window_end - ts[ret]  # at least an hour: orders are placed before 23:00
    delay = np.minimum(rng.integers(DAY, 30 * DAY, len(ret)), 60 + rng.random(len(ret)) * (room - 60))
    r_ts = ts[ret] + delay.astype(np.int64)
    src = np.concatenate([np.arange(No), ret])
    o_cust, o_ts = oc[src], np.concatenate([ts, r_ts])
    perm = np.argsort((o_cust << 32) + (o_ts - E + 2**31), kind="stable")  # by customer, then time
    pos = np.empty_like(perm)
    pos[perm] = np.arange(len(perm))
    s, c = src[perm], o_cust[perm]
    md, ch, pr = mode[s], chan[s], person[s]
    refs = pa.concat_arrays([acc.ids, pe.ids])
    ref = take(refs, np.where(md == REF_ACCOUNT, cu.acc_local[c], acc.n + pr), md > REF_CONTACT)
    has_email = (ch == WEB) & (md != ORG_ONLY)
    email = N.messy(rng, take(pe.email, pr, ~has_email), np.where(md == EMAIL_ONLY, 0.3, 0.02))
    org = take(acc.org, cu.acc_local[c], md != ORG_ONLY)
    org = pc.if_else(pa.array(rng.random(len(s)) < 0.5), pc.replace_substring(org, "-", ""), org)
    order_ids = padded_ids("O", st.orders, len(s), 8)
    st.orders += len(s)
    orders = {"order_id": order_ids, "customer_ref": ref, "email": email, "org_number": org,
              "ordered_at": timestamps(o_ts[perm]), "sales_channel": take(v.sales_channels, ch),
              "currency": take(v.currencies, cu.country[c])}  # fmt: skip
    # Lines: B2B baskets are wider and deeper; prices are list prices in the order currency.
    nl = 1 + rng.binomial(5, np.where(b2b, 0.5, 0.28))
    lo = np.repeat(np.arange(No), nl)
    NL, lb2b, val = len(lo), b2b[lo], cu.value[oc[lo]]
    prod = _products(rng, cat, lb2b.astype(np.int64), days[lo])
    qty = np.clip(np.where(lb2b, 1 + rng.poisson(1.2 * val**0.5), rng.geometric(0.72, NL)), 1, 20)
    cur, web = cu.country[oc[lo]], chan[lo] == WEB
    price = cat.cents[prod] * v.rates[cur] * np.where(web, 1.0, rng.uniform(0.85, 1.0, NL))
    price = np.where(web & (v.rates[cur] > 2), np.round(price / 100) * 100, np.round(price)).astype(np.int64)
    disc = np.where(
        lb2b, np.round(rng.uniform(2, 30, NL) * 2) * 50, rng.choice([5, 10, 15, 20, 25, 30], NL) * 100
    )
    disc = np.where(rng.random(NL) < np.where(lb2b, 0.5, 0.85), 0, disc)
    # Returns: the first line of the returned purchase and some others, partly or fully sent back.
    returned = np.zeros(No, bool)
    returned[ret] = True
    first_line = np.r_[True, lo[1:] != lo[:-1]]
    sel = np.flatnonzero(returned[lo] & (first_line | (rng.random(NL) < 0.35)))
    ret_no = np.full(No, -1)
    ret_no[ret] = No + np.arange(len(ret))
    l_order = np.concatenate([lo, ret_no[lo[sel]]])
    r_qty = -(1 + (rng.random(len(sel)) * qty[sel]).astype(np.int64))
    lperm = np.argsort(pos[l_order], kind="stable")
    lines = {"order_line_id": padded_ids("L", st.lines, len(lperm), 9),
             "order_id": take(order_ids, pos[l_order][lperm]),
             "product_id": take(cat.ids, np.concatenate([prod, prod[sel]])[lperm]),
             "quantity": pa.array(np.concatenate([qty, r_qty])[lperm]),
             "unit_price": decimals(np.concatenate([price, price[sel]])[lperm]),
             "discount_pct": decimals(np.concatenate([disc, disc[sel]])[lperm])}  # fmt: skip
    st.lines += len(lperm)
    od = SimpleNamespace(
        cust=o_cust, ts=o_ts, person=person[src], chan=chan[src], ret=np.arange(len(src)) >= No
    )
    return orders, lines, od
