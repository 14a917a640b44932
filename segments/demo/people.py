"""The CRM side of one chunk: customers (with lifecycle and spend potential), accounts and contacts."""

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
    by_country,
    decimals,
    padded_ids,
    pick,
    take,
    time_of_day,
    timestamps,
    uint,
)
from segments.ingest.schemas import COUNTRIES

B2C, B2B, GUEST = 0, 1, 2
NEW, ACTIVE, LAPSING, LOST = 0, 1, 2, 3
STATE_P = (0.12, 0.40, 0.16, 0.32)
# Last order, in days before as_of, per lifecycle state. The gaps around 180 and 365 days keep each
# customer's state unambiguous whichever side of the boundary a consumer counts as inclusive.
LAST_LO, LAST_HI = np.array([1, 1, 181, 367]), np.array([89, 179, 362, 1400])


class EmailCounter:
    """Global occurrence counter for e-mail keys, so '.2', '.3' suffixes stay unique across chunks."""

    def __init__(self) -> None:
        self.keys = np.empty(0, np.int64)
        self.counts = np.empty(0, np.int64)

    def number(self, keys: np.ndarray) -> np.ndarray:
        order = np.argsort(keys, kind="stable")
        uk, first, cnt = np.unique(keys[order], return_index=True, return_counts=True)
        pos = np.searchsorted(self.keys, uk)
        found = pos < len(self.keys)
        found[found] = self.keys[pos[found]] == uk[found]
        prior = np.zeros(len(uk), np.int64)
        prior[found] = self.counts[pos[found]]
        out = np.empty(len(keys), np.int64)
        out[order] = np.arange(len(keys)) - np.repeat(first, cnt) + np.repeat(prior, cnt)
        self.counts[pos[found]] += cnt[found]
        keys_all = np.concatenate([self.keys, uk[~found]])
        counts_all = np.concatenate([self.counts, cnt[~found]])
        merge = np.argsort(keys_all, kind="stable")
        self.keys, self.counts = keys_all[merge], counts_all[merge]
        return out


def make_customers(rng: np.random.Generator, n: int, v: SimpleNamespace, E: int) -> SimpleNamespace:
    """CRM customers 0..n-1 (B2B accounts and B2C people), then webshop guests n..m-1 (not in the CRM)."""
    m = n + round(n * 0.05)
    kind = np.where(rng.random(m) < 0.20, B2B, B2C)
    kind[n:] = GUEST
    b2b = kind == B2B
    country = pick(rng, v.country_cdf, np.zeros(m, np.int64))
    buyer = (rng.random(m) >= 0.15) | (kind == GUEST)  # ~15% of CRM customers are prospects
    state = rng.choice(4, m, p=STATE_P)
    employees = np.where(b2b, np.clip(np.round(np.exp(rng.normal(np.log(8), 1.5, m))), 1, 60_000), 1)
    # Spend potential: heavy-tailed, larger for bigger companies; drives order count and basket size.
    value = np.exp(rng.normal(0.0, 0.8, m)) * np.where(b2b, 1.8 * (employees / 10) ** 0.3, 1.0)
    value = np.minimum(value, 15)  # a cap keeps single giants from dominating small samples
    n_ord = np.array([1, 2, 1, 1])[state] + rng.poisson(np.array([0.3, 3.0, 1.8, 1.2])[state] * value**0.6)
    n_ord = np.minimum(n_ord, np.where(state == NEW, 3, 150))
    n_ord = np.where(kind == GUEST, 1 + rng.poisson(0.25, m), n_ord) * buyer
    # First (F) and last (L) order in days before as_of; "active" customers have a history beyond 90 days.
    L = uint(rng, LAST_LO[state], LAST_HI[state])
    F = uint(rng, np.where(state == ACTIVE, np.maximum(L + 30, 91), L), np.where(state == NEW, 89, HISTORY))
    L = np.where(n_ord <= 1, F, L)
    first_ts = E - F * DAY + time_of_day(rng, b2b)
    # Time from CRM record to first order: B2B in whole days (so office hours); many consumers sign up at checkout.
    lead = np.where(b2b, uint(rng, 7, 700, m) * DAY, rng.integers(DAY, 400 * DAY, m))
    lead = np.where(~b2b & (rng.random(m) < 0.45), rng.integers(60, 3 * 3600, m), lead)
    prospect_created = E - uint(rng, 1, CATALOGUE, m) * DAY + time_of_day(rng, b2b)
    engagement = np.exp(rng.normal(0.0, 0.5, m)) * np.where(buyer, 1.0, 0.45) * value**0.15
    return SimpleNamespace(n=n, m=m, kind=kind, b2b=b2b, country=country, city=pick(rng, v.city_cdf, country),
                           buyer=buyer, state=state, employees=employees, value=value, n_ord=n_ord, F=F, L=L,
                           first_ts=first_ts, created=np.where(buyer, first_ts - lead, prospect_created),
                           engagement=engagement, acc_local=np.cumsum(b2b) - 1)  # fmt: skip


def make_accounts(
    rng: np.random.Generator, cu: SimpleNamespace, v: SimpleNamespace, st: SimpleNamespace, year: int
):
    ai = np.flatnonzero(cu.b2b)
    na, c, emp = len(ai), cu.country[ai], cu.employees[ai]
    seq = st.accounts + np.arange(na)
    if st.accounts + na > N.ORG_CAPACITY:
        raise ValueError(f"more than {N.ORG_CAPACITY:,} accounts: org numbers would repeat")
    ind = pick(rng, v.ind_cdf, np.zeros(na, np.int64))
    band = np.searchsorted([10, 50, 250, 1000], emp, side="right")
    revenue = np.round(emp * np.exp(rng.normal(np.log(150_000), 0.55, na)) / 1000) * 100_000  # EUR cents
    age = np.ceil(rng.exponential(10 + 6 * np.log10(emp), na))
    tech = np.digitize(v.ind_it[ind] + 0.12 * np.log10(emp) + rng.normal(0, 0.22, na), [0.4, 0.75])
    # Company name patterns: "Nordvik Bygg AB", "Fjällström & Söner", "Lindqvists Data AB", "Ærø Data".
    pat = rng.choice(4, na, p=[0.55, 0.10, 0.15, 0.20])
    stem, sur = pick(rng, v.stem_cdf, c), pick(rng, v.last_cdf, c)
    family = pa.array(np.isin(pat, (1, 2)))
    first = pc.if_else(family, take(v.last, sur), take(v.stems, stem))
    first = pc.if_else(pa.array(pat == 2), pc.binary_join_element_wise(first, "s", ""), first)
    second = pc.if_else(pa.array(pat == 1), take(v.sons, c), take(v.trade, ind * len(COUNTRIES) + c))
    legal = take(v.legal, pick(rng, v.legal_cdf, c), np.isin(pat, (1, 3)))
    name = pc.binary_join_element_wise(first, second, legal, " ", null_handling="skip")
    dom = np.select([pat == 1, pat == 2], [v.dom_sons[sur], v.dom_gen[sur, ind]], v.dom_stem[stem, ind])
    ids = padded_ids("A", st.accounts, na, 7)
    org = by_country(c, lambda code, idx: N.org_numbers(code, seq[idx], st.org_offset))
    st.accounts += na
    cols = {"account_id": ids, "org_number": org, "name": name, "industry": take(v.industries, ind),
            "employee_band": take(v.bands, band), "annual_revenue": decimals(revenue), "country": take(v.countries, c),
            "region": take(v.region, cu.city[ai]), "city": take(v.city, cu.city[ai]),
            "founded_year": pa.array(np.clip(year - age, 1900, year)), "tech_maturity": take(v.tech, tech),
            "ownership": take(v.ownership, pick(rng, v.own_cdf, (band >= 3).astype(np.int64), 5)),
            "created_at": timestamps(cu.created[ai])}  # fmt: skip
    return cols, SimpleNamespace(n=na, ids=ids, org=org, dom=np.append(dom, 0))


def make_contacts(rng, cu, acc, v, st, E: int, year: int):
    """One person per B2C customer and guest, 1-4 contacts per account; guests come last and stay out of the CRM."""
    n_p = np.where(cu.b2b, rng.choice([1, 2, 3, 4], cu.m, p=[0.35, 0.30, 0.20, 0.15]), 1)
    cust = np.repeat(np.arange(cu.m), n_p)
    P, Pc, start = len(cust), int(n_p[: cu.n].sum()), np.cumsum(n_p) - n_p
    rank, b2b, country = np.arange(P) - start[cust], cu.b2b[cust], cu.country[cust]
    name_c = np.where(rng.random(P) < 0.9, country, rng.integers(0, len(COUNTRIES), P))  # some cross-border
    male = (rng.random(P) < 0.5).astype(np.int64)
    first, last = pick(rng, v.first_cdf, name_c * 2 + male), pick(rng, v.last_cdf, name_c)
    g = rng.random(P)
    gender = np.where(g < 0.01, 2, male)
    age = np.where(b2b, np.clip(rng.normal(46, 10, P), 22, 67), np.clip(rng.normal(45, 16, P), 18, 86))
    birth = np.clip(np.round(year - age), 1940, min(2006, year - 18)).astype(np.int64)
    age = year - birth
    # E-mail: folded name tokens + provider or company domain; the key counts earlier identical addresses.
    pat = rng.choice(4, P, p=[0.60, 0.15, 0.12, 0.13])  # first.last, f.last, first_last, last.first
    ft, lt = v.first_tok[first], v.last_tok[last]
    a, b = np.choose(pat, [ft, v.init_tok[first], ft, lt]), np.where(pat == 3, ft, lt)
    sep = (pat == 2).astype(np.int64)
    acc_of = np.where(b2b, cu.acc_local[cust], -1)
    generic = v.gen_dom[pick(rng, v.gen_cdf, country)]
    dom = np.where(b2b & (rng.random(P) < 0.9), acc.dom[acc_of], generic)
    k = st.uniq.number(((a * 2 + sep) * v.n_tok + b) * v.n_dom + dom)
    suffix = pc.if_else(pa.array(k > 0), pa.array(k + 1).cast(pa.string()), "")
    local = pc.binary_join_element_wise(take(v.tokens, a), take(v.seps, sep), take(v.tokens, b), suffix, "")
    email = pc.binary_join_element_wise(local, "@", take(v.domains, dom), "")
    pe = SimpleNamespace(P=P, Pc=Pc, cust=cust, start=start, n_p=n_p, email=email)
    pe.ids = padded_ids("C", st.contacts, Pc, 7)
    st.contacts += Pc
    cust, b2b, country, rank, age = cust[:Pc], b2b[:Pc], country[:Pc], rank[:Pc], age[:Pc]
    city = np.where(b2b & (rng.random(Pc) < 0.85), cu.city[cust], pick(rng, v.city_cdf, country))
    consent = rng.random((Pc, 4)) < np.array([0.70, 0.35, 0.45, 0.25])
    # Further contacts at an account were introduced by colleagues and cost nothing to acquire.
    acq = pick(rng, v.acq_cdf, b2b.astype(np.int64), len(N.ACQUISITION))
    acq = np.where(b2b & (rank > 0), v.referral, acq)
    cost = np.round(v.acq_median[acq] * np.exp(rng.normal(0, 0.5, Pc)) * 100) * (rank == 0)
    # They are added later, in whole days (keeping office hours) and before the account's first order.
    limit = np.where(cu.buyer, cu.first_ts, E)[cust]
    later = (rng.random(Pc) * ((limit - cu.created[cust]) // DAY)).astype(np.int64) * DAY
    created = cu.created[cust] + np.where(rank == 0, 0, later)
    pe.created, pe.consent_email = created, consent[:, 0]
    phone = by_country(country, lambda code, idx: N.phones(rng, code, len(idx)))
    cols = {"contact_id": pe.ids, "account_id": take(acc.ids, acc_of[:Pc], acc_of[:Pc] < 0),
            "first_name": take(v.first, first[:Pc]), "last_name": take(v.last, last[:Pc]),
            "email": N.messy(rng, email[:Pc], 0.03),
            "phone": pc.if_else(pa.array(rng.random(Pc) < np.where(b2b, 0.04, 0.10)), pa.scalar(None, pa.string()), phone),
            "birth_year": pa.array(birth[:Pc], mask=rng.random(Pc) < np.where(b2b, 0.10, 0.04)),
            "gender": take(v.genders, gender[:Pc], g[:Pc] > 0.94),
            "education": take(v.edu, pick(rng, v.edu_cdf, b2b * 2 + (age >= 60), 6), rng.random(Pc) < np.where(b2b, 0.25, 0.12)),
            "household": take(v.hh, pick(rng, v.hh_cdf, np.digitize(age, [30, 50, 67]), 5), b2b | (rng.random(Pc) < 0.08)),
            "country": take(v.countries, country), "region": take(v.region, city), "city": take(v.city, city),
            "consent_email": pa.array(consent[:, 0]), "consent_sms": pa.array(consent[:, 1]),
            "consent_phone": pa.array(consent[:, 2]), "consent_post": pa.array(consent[:, 3]),
            "preferred_channel": take(v.channels, pick(rng, v.pref_cdf, np.zeros(Pc, np.int64)), rng.random(Pc) < 0.70),
            "acquisition_channel": take(v.acq, acq), "acquisition_cost": decimals(cost), "created_at": timestamps(created)}  # fmt: skip
    return cols, pe
