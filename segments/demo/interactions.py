"""CRM interactions: campaign e-mails, web visits, calls, meetings and support tickets."""

from __future__ import annotations

import numpy as np

from segments.demo.common import DAY, INTERACTION_WINDOW, padded_ids, take, time_of_day, timestamps
from segments.demo.sales import PARTNER, REP
from segments.ingest.schemas import INTERACTION_TYPES

ES, EO, EC, WV, MT, CL, ST = (INTERACTION_TYPES.index(t) for t in INTERACTION_TYPES)


def make_campaigns(rng: np.random.Generator, E: int) -> np.ndarray:
    """Marketing e-mail send times: Tuesday and Thursday mornings over the interaction window."""
    days = np.arange(E // DAY - INTERACTION_WINDOW - 7, E // DAY)
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
    days = days[np.isin(weekday, (1, 3)) & (rng.random(len(days)) < 0.85)]
    return np.sort(days * DAY + 8 * 3600 + rng.integers(0, 9000, len(days)))


def make_interactions(rng, cu, pe, od, v, camp, st, E: int) -> dict:
    """Campaign e-mails (opened/clicked only after a send), web visits, calls, meetings and tickets.

    Activity clusters around orders and scales with the customer's engagement; everything falls in the last
    two years, after the contact was created.
    """
    Pc, W = pe.Pc, E - INTERACTION_WINDOW * DAY
    pcust = pe.cust[:Pc]
    act = np.maximum(W, pe.created)
    frac, e, b2b = (E - act) / (E - W), cu.engagement[pcust], cu.b2b[pcust]
    parts: list[tuple[np.ndarray, int, np.ndarray]] = []

    def at_hours(t: np.ndarray, office: bool) -> np.ndarray:  # same day, office or waking hours
        return (t // DAY) * DAY + time_of_day(rng, np.full(len(t), office))

    def spread(rate: np.ndarray, typ: int, office: bool = False) -> None:  # Poisson count, uniform days
        who = np.repeat(np.arange(Pc), rng.poisson(rate * frac))
        t = act[who] + (rng.random(len(who)) * (E - act[who])).astype(np.int64)
        parts.append((who, typ, at_hours(t, office)))

    nc = len(camp)
    first = np.searchsorted(camp, act)
    sends = np.minimum(rng.poisson(9.0 * e * frac * pe.consent_email), nc - first)
    who = np.repeat(np.arange(Pc), sends)
    key = np.sort(who * nc + first[who] + (rng.random(len(who)) * (nc - first[who])).astype(np.int64))
    key = key[np.r_[True, key[1:] != key[:-1]]]  # one send per campaign and contact
    who, sent = key // nc, camp[key % nc] + rng.integers(0, 2400, len(key))
    parts.append((who, ES, sent))
    o = rng.random(len(who)) < np.clip(0.3 * e[who] ** 0.5, 0.05, 0.85)
    who, t = who[o], sent[o] + 60 + rng.exponential(4 * 3600, o.sum()).astype(np.int64)
    parts.append((who, EO, t))
    o = rng.random(len(who)) < 0.3
    who, t = who[o], t[o] + 5 + rng.exponential(90, o.sum()).astype(np.int64)
    parts.append((who, EC, t))
    o = rng.random(len(who)) < 0.7  # a click lands on the website
    parts.append((who[o], WV, t[o] + rng.integers(2, 60, o.sum())))
    spread(3.5 * e, WV)
    spread(np.where(b2b, 0.4, 0.0) * e, MT, office=True)
    spread(np.where(b2b, 1.0, 0.25) * e, CL, office=True)
    spread(np.full(Pc, 0.15), ST, office=True)
    # Around orders by CRM customers: browsing before a purchase, sales contact before B2B deals, tickets after.
    k = np.flatnonzero((od.cust < cu.n) & (od.ts >= W))
    c, t, p, ch, r = od.cust[k], od.ts[k], od.person[k], od.chan[k], od.ret[k]
    visits = rng.poisson(1.5 * cu.engagement[c] * ~r)
    browse = np.repeat(t, visits) - rng.integers(0, 7 * DAY, visits.sum())
    parts.append((np.repeat(p, visits), WV, at_hours(browse, False)))
    tk = rng.random(len(k)) < np.where(r, 0.6, 0.06)
    lag = np.where(r[tk], -rng.integers(3600, 3 * DAY, tk.sum()), rng.integers(DAY // 2, 20 * DAY, tk.sum()))
    parts.append((p[tk], ST, t[tk] + lag))
    for typ, rate, lead in (
        (MT, np.where(ch == REP, 0.8, 0.0), 45),
        (CL, np.where(ch == REP, 1.2, np.where(ch == PARTNER, 0.3, 0.0)), 30),
    ):
        cnt = rng.poisson(rate * ~r)
        cc = np.repeat(c, cnt)
        who = pe.start[cc] + (rng.random(len(cc)) * pe.n_p[cc]).astype(np.int64)  # any contact of the account
        tt = np.repeat(t, cnt) - rng.integers(DAY, lead * DAY, len(cc))
        parts.append((who, typ, at_hours(tt, True)))
    who = np.concatenate([x[0] for x in parts])
    typ = np.concatenate([np.full(len(x[0]), x[1], np.int8) for x in parts])
    t = np.concatenate([x[2] for x in parts])
    keep = (t >= act[who]) & (t < E)
    who, typ, t = who[keep], typ[keep], t[keep]
    chan = np.where((typ == ST) & (rng.random(len(typ)) < 0.4), v.phone_channel, v.type_channel[typ])
    perm = np.argsort((who << 32) + (t - W), kind="stable")  # by contact, then time (0 <= t - W < 2**32)
    cols = {"interaction_id": padded_ids("I", st.interactions, len(perm), 9), "contact_id": take(pe.ids, who[perm]),
            "interaction_type": take(v.itypes, typ[perm]), "channel": take(v.ichannels, chan[perm]),
            "occurred_at": timestamps(t[perm])}  # fmt: skip
    st.interactions += len(perm)
    return cols
