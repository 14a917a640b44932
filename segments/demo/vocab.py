"""Arrow vocabularies and sampling CDFs built once from ``names`` (cached across chunks and runs)."""

from __future__ import annotations

import functools
from types import SimpleNamespace

import numpy as np
import pyarrow as pa

from segments.demo import names as N
from segments.demo.common import grouped, zipf
from segments.ingest.schemas import (
    CHANNELS,
    COUNTRIES,
    EMPLOYEE_BANDS,
    INTERACTION_CHANNELS,
    INTERACTION_TYPES,
    SALES_CHANNELS,
    TECH_MATURITY,
)


@functools.cache
def vocab() -> SimpleNamespace:
    v, cc, sexes = SimpleNamespace(), COUNTRIES, ("female", "male")
    v.countries = pa.array(cc)
    v.country_cdf = grouped([[N.COUNTRY_WEIGHTS[c] for c in cc]])
    v.currencies = pa.array([N.CURRENCY_BY_COUNTRY[c] for c in cc])
    v.rates = np.array([N.EUR_RATES[N.CURRENCY_BY_COUNTRY[c]] for c in cc])
    cities = [row for c in cc for row in N.CITIES[c]]
    v.city, v.region = pa.array([r[0] for r in cities]), pa.array([r[1] for r in cities])
    v.city_cdf = grouped([[r[2] for r in N.CITIES[c]] for c in cc])
    tok: dict[str, int] = {}
    dom: dict[str, int] = {}
    firsts = [x for c in cc for s in sexes for x in N.FIRST_NAMES[c][s]]
    v.first = pa.array(firsts)
    v.first_cdf = grouped([zipf(len(N.FIRST_NAMES[c][s])) for c in cc for s in sexes])
    v.first_tok = np.array([tok.setdefault(N.fold(x), len(tok)) for x in firsts])
    v.init_tok = np.array([tok.setdefault(N.fold(x)[0], len(tok)) for x in firsts])
    lasts = [x for c in cc for x in N.LAST_NAMES[c]]
    v.last, v.last_cdf = pa.array(lasts), grouped([zipf(len(N.LAST_NAMES[c])) for c in cc])
    v.last_tok = np.array([tok.setdefault(N.fold(x), len(tok)) for x in lasts])
    v.tokens, v.n_tok, v.seps = pa.array(list(tok)), len(tok), pa.array([".", "_"])
    v.gen_dom = np.array([dom.setdefault(d, len(dom)) for c in cc for d, _ in N.EMAIL_DOMAINS[c]])
    v.gen_cdf = grouped([[w for _, w in N.EMAIL_DOMAINS[c]] for c in cc])
    inds = list(N.INDUSTRIES)
    v.industries, v.ind_cdf = pa.array(inds), grouped([[N.INDUSTRIES[i][0] for i in inds]])
    v.ind_it = np.array([N.INDUSTRIES[i][1] for i in inds])
    v.trade = pa.array([N.INDUSTRIES[i][2][ci] for i in inds for ci in range(len(cc))])
    stems = [(s, ci) for ci, c in enumerate(cc) for s in N.COMPANY_STEMS[c]]
    v.stems, v.stem_cdf = (
        pa.array([s for s, _ in stems]),
        grouped([np.ones(len(N.COMPANY_STEMS[c])) for c in cc]),
    )
    v.sons = pa.array([N.SONS[c] for c in cc])
    v.legal = pa.array([f for c in cc for f, _ in N.LEGAL_FORMS[c]])
    v.legal_cdf = grouped([[w for _, w in N.LEGAL_FORMS[c]] for c in cc])

    def company_domain(label: str, ci: int) -> int:  # e.g. "Nordvik" + "Bygg" -> nordvikbygg.se
        return dom.setdefault(f"{N.slug(label)}.{N.TLD[cc[ci]]}", len(dom))

    v.dom_stem = np.array([[company_domain(s + N.INDUSTRIES[i][2][ci], ci) for i in inds] for s, ci in stems])
    last_c = [(x, ci) for ci, c in enumerate(cc) for x in N.LAST_NAMES[c]]
    v.dom_sons = np.array([company_domain(x + N.SONS[cc[ci]], ci) for x, ci in last_c])
    v.dom_gen = np.array(
        [[company_domain(x + "s" + N.INDUSTRIES[i][2][ci], ci) for i in inds] for x, ci in last_c]
    )
    v.domains, v.n_dom = pa.array(list(dom)), len(dom)
    v.bands, v.tech, v.ownership = pa.array(EMPLOYEE_BANDS), pa.array(TECH_MATURITY), pa.array(N.OWNERSHIP)
    v.own_cdf = grouped([[55, 32, 1, 4, 8], [33, 14, 20, 5, 28]])  # small / 250+ employees
    v.edu, v.hh, v.genders = pa.array(N.EDUCATION), pa.array(N.HOUSEHOLDS), pa.array(N.GENDERS)
    # rows: consumer <60, consumer 60+, business contact <60, business contact 60+
    v.edu_cdf = grouped(
        [[10, 32, 16, 24, 15, 3], [24, 34, 18, 14, 8, 2], [2, 12, 10, 40, 32, 4], [5, 20, 14, 35, 22, 4]]
    )
    # rows: age <30, 30-49, 50-66, 67+
    v.hh_cdf = grouped([[55, 30, 10, 5, 0], [20, 22, 45, 13, 0], [25, 45, 18, 5, 7], [30, 12, 1, 2, 55]])
    v.channels, v.pref_cdf = pa.array(CHANNELS), grouped([[50, 20, 15, 15]])
    acq = list(N.ACQUISITION)
    v.acq, v.acq_cdf = pa.array(acq), grouped([[N.ACQUISITION[a][k] for a in acq] for k in (0, 1)])
    v.acq_median, v.referral = np.array([N.ACQUISITION[a][2] for a in acq]), acq.index("referral")
    v.sales_channels, v.itypes, v.ichannels = (
        pa.array(SALES_CHANNELS),
        pa.array(INTERACTION_TYPES),
        pa.array(INTERACTION_CHANNELS),
    )
    by_type = {"web_visit": "web", "meeting": "meeting", "call": "phone"}  # email_* and tickets: email
    v.type_channel = np.array(
        [INTERACTION_CHANNELS.index(by_type.get(t, "email")) for t in INTERACTION_TYPES]
    )
    v.phone_channel = INTERACTION_CHANNELS.index("phone")
    return v
