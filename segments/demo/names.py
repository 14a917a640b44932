"""Vocabularies for the demo data: Nordic people, places, companies, industries and products.

Lists are ordered roughly by popularity: the generator skews draws towards the front of each list.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

COUNTRY_WEIGHTS = {"SE": 0.45, "NO": 0.20, "DK": 0.20, "FI": 0.15}
CURRENCY_BY_COUNTRY = {"SE": "SEK", "NO": "NOK", "DK": "DKK", "FI": "EUR"}
# Prices and revenue are kept in EUR; order currencies are converted with these fixed rates.
# The same rates as dbt_project/seeds/currency_rates.csv (EUR per unit there, units per EUR here).
EUR_RATES = {"SEK": 11.20, "NOK": 11.60, "DKK": 7.46, "EUR": 1.00}


def _words(text: str) -> list[str]:
    return text.split()


TLD = {"SE": "se", "NO": "no", "DK": "dk", "FI": "fi"}

# (city, region, relative weight). Norway keeps the pre-2024 county "Viken", as older CRMs still do.
CITIES: dict[str, list[tuple[str, str, int]]] = {
    "SE": [
        ("Stockholm", "Stockholms län", 30), ("Göteborg", "Västra Götaland", 15), ("Malmö", "Skåne", 10),
        ("Uppsala", "Uppsala län", 6), ("Västerås", "Västmanland", 5), ("Örebro", "Örebro län", 5),
        ("Linköping", "Östergötland", 5), ("Norrköping", "Östergötland", 4), ("Helsingborg", "Skåne", 4),
        ("Jönköping", "Jönköpings län", 4), ("Umeå", "Västerbotten", 4), ("Luleå", "Norrbotten", 3),
        ("Sundsvall", "Västernorrland", 3), ("Borås", "Västra Götaland", 3),
    ],
    "NO": [
        ("Oslo", "Oslo", 30), ("Bergen", "Vestland", 14), ("Trondheim", "Trøndelag", 10),
        ("Stavanger", "Rogaland", 9), ("Drammen", "Viken", 5), ("Kristiansand", "Agder", 5),
        ("Fredrikstad", "Viken", 4), ("Lillestrøm", "Viken", 4), ("Tromsø", "Troms", 4),
        ("Bodø", "Nordland", 3), ("Ålesund", "Møre og Romsdal", 3), ("Tønsberg", "Vestfold", 3),
    ],
    "DK": [
        ("København", "Hovedstaden", 30), ("Aarhus", "Midtjylland", 15), ("Odense", "Syddanmark", 9),
        ("Aalborg", "Nordjylland", 8), ("Frederiksberg", "Hovedstaden", 6), ("Esbjerg", "Syddanmark", 4),
        ("Vejle", "Syddanmark", 4), ("Randers", "Midtjylland", 4), ("Roskilde", "Sjælland", 3),
        ("Næstved", "Sjælland", 3), ("Køge", "Sjælland", 3), ("Herning", "Midtjylland", 3),
    ],
    "FI": [
        ("Helsinki", "Uusimaa", 30), ("Espoo", "Uusimaa", 14), ("Tampere", "Pirkanmaa", 12),
        ("Vantaa", "Uusimaa", 11), ("Turku", "Varsinais-Suomi", 10), ("Oulu", "Pohjois-Pohjanmaa", 10),
        ("Jyväskylä", "Keski-Suomi", 7), ("Lahti", "Päijät-Häme", 6), ("Kuopio", "Pohjois-Savo", 6),
        ("Vaasa", "Pohjanmaa", 4),
    ],
}  # fmt: skip

FIRST_NAMES: dict[str, dict[str, list[str]]] = {
    "SE": {
        "female": _words(
            "Anna Maria Karin Eva Kristina Lena Sara Emma Elin Ingrid Åsa Märta Linnéa Birgitta "
            "Kerstin Ebba Maja Astrid Sofia Ylva Agneta Britt-Marie Signe Lovisa Hanna Renée"
        ),
        "male": _words(
            "Lars Anders Johan Erik Per Karl Mikael Björn Jörgen Göran Nils Olof Oskar Gustav Jonas "
            "Måns Pär Håkan Sören Stefan André Hugo Axel Lennart Ulf"
        ),
    },
    "NO": {
        "female": _words(
            "Anne Ingrid Kari Marit Solveig Hanne Sigrid Ragnhild Åse Nora Ingeborg Tone Silje Ida "
            "Gro Randi Bjørg Tove Marte Astrid"
        ),
        "male": _words(
            "Ole Jan Per Bjørn Knut Arne Lars Øystein Håkon Terje Jørgen Magnus Eirik Sindre Kjetil "
            "Halvor Geir Stian Trond Ørjan"
        ),
    },
    "DK": {
        "female": _words(
            "Mette Anne Kirsten Hanne Karen Lene Susanne Birgitte Camilla Sofie Freja Ida Signe "
            "Line Bodil Gitte Malene Louise Ærle Søs"
        ),
        "male": _words(
            "Jens Søren Niels Lars Henrik Mads Rasmus Frederik Anders Jørgen Morten Kasper Mikkel "
            "Bent Jørn Poul Thomas Christian Kåre Asbjørn"
        ),
    },
    "FI": {
        "female": _words(
            "Anna Aino Liisa Sanna Päivi Tiina Minna Johanna Sinikka Kaisa Anu Hanna Elina Ritva "
            "Tuulikki Maarit Pirjo Eeva Anna-Liisa Sofia"
        ),
        "male": _words(
            "Juha Mikko Jussi Matti Pekka Timo Antti Heikki Jari Kari Väinö Jyrki Markku Tapio "
            "Petri Sami Ville Mårten Björn Jörn"
        ),
    },
}

LAST_NAMES: dict[str, list[str]] = {
    "SE": _words(
        "Andersson Johansson Karlsson Nilsson Eriksson Larsson Olsson Persson Svensson Gustafsson "
        "Pettersson Jonsson Lindqvist Lindberg Åberg Bäckström Sjöberg Löfgren Håkansson Ström Björk "
        "Nordström Lundgren Forsén Ekström Holmström Öberg Söderberg Fjällström Ågren Hägg Lindén"
    ),
    "NO": _words(
        "Hansen Johansen Olsen Larsen Andersen Pedersen Nilsen Kristiansen Jensen Karlsen Haugen "
        "Bakken Solberg Sæther Strøm Dahl Lie Ødegård Bjørnstad Hågensen Løken Berg Myhre Aasen Fjeld "
        "Nygård Brekke Hovland"
    ),
    "DK": _words(
        "Nielsen Jensen Hansen Pedersen Andersen Christensen Larsen Sørensen Rasmussen Jørgensen "
        "Madsen Kristensen Olsen Thomsen Poulsen Møller Mortensen Østergaard Kjær Bæk Lauridsen Frølund "
        "Dalsgaard Søndergaard Bøgh"
    ),
    "FI": _words(
        "Korhonen Virtanen Mäkinen Nieminen Mäkelä Hämäläinen Laine Heikkinen Koskinen Järvinen "
        "Lehtonen Lehtinen Saarinen Salminen Heinonen Niemi Lindholm Söderström Häkkinen Ahonen "
        "Kärkkäinen Väisänen Törmänen Grönlund Åkerlund"
    ),
}

# (domain, weight): consumer mail providers per country.
EMAIL_DOMAINS: dict[str, list[tuple[str, int]]] = {
    "SE": [("gmail.com", 40), ("hotmail.com", 20), ("outlook.com", 10), ("telia.com", 10),
           ("icloud.com", 8), ("live.se", 6), ("yahoo.se", 3), ("bredband.net", 3)],
    "NO": [("gmail.com", 45), ("hotmail.com", 15), ("online.no", 12), ("outlook.com", 10),
           ("icloud.com", 10), ("live.no", 8)],
    "DK": [("gmail.com", 40), ("hotmail.com", 18), ("outlook.dk", 10), ("mail.dk", 10),
           ("icloud.com", 10), ("live.dk", 7), ("jubii.dk", 5)],
    "FI": [("gmail.com", 40), ("hotmail.com", 15), ("outlook.com", 12), ("luukku.com", 10),
           ("icloud.com", 10), ("suomi24.fi", 8), ("kolumbus.fi", 5)],
}  # fmt: skip

# industry -> (weight, IT affinity 0..1, company word per country SE/NO/DK/FI)
INDUSTRIES: dict[str, tuple[int, float, tuple[str, str, str, str]]] = {
    "construction": (14, 0.2, ("Bygg", "Bygg", "Byg", "Rakennus")),
    "manufacturing": (10, 0.4, ("Mekaniska", "Mekaniske", "Maskinfabrik", "Konepaja")),
    "retail": (11, 0.4, ("Handel", "Handel", "Handel", "Kauppa")),
    "wholesale": (7, 0.4, ("Grossist", "Engros", "Engros", "Tukku")),
    "it_services": (10, 0.9, ("Data", "Data", "Data", "Data")),
    "professional_services": (13, 0.6, ("Konsult", "Rådgivning", "Rådgivning", "Konsultointi")),
    "healthcare": (6, 0.4, ("Vård", "Helse", "Sundhed", "Terveys")),
    "transport_logistics": (8, 0.3, ("Transport", "Transport", "Transport", "Kuljetus")),
    "hospitality": (7, 0.2, ("Hotell", "Hotell", "Hotel", "Hotelli")),
    "real_estate": (6, 0.3, ("Fastigheter", "Eiendom", "Ejendomme", "Kiinteistöt")),
    "financial_services": (4, 0.8, ("Finans", "Finans", "Finans", "Rahoitus")),
    "agriculture_fishing": (4, 0.1, ("Lantbruk", "Fisk", "Landbrug", "Maatalous")),
}
COMPANY_STEMS: dict[str, list[str]] = {
    "SE": _words(
        "Nordvik Björkdal Sjövik Ekhagen Granlund Älvsby Östermalm Vättern Norrsken Kullen Storsjö "
        "Bergslagen Roslagen Mälardalens Hälsinge Fjällvik"
    ),
    "NO": _words(
        "Tromsø Nordlys Bjørkvik Haugland Sølvberg Vestkyst Fjellheim Lofoten Sørlandet Fosen "
        "Hardanger Bodø Ålesund Jæren"
    ),
    "DK": _words(
        "Ærø Vesterhav Limfjord Bøgeskov Kattegat Skovly Østerbro Møn Fanø Himmerland Langeland "
        "Gudenå Nørrebro Thy"
    ),
    "FI": _words("Pohjola Saimaa Kaleva Järvi Kuusamo Lappi Tammi Koivu Helmi Revontuli Pyhä Suomen"),
}
SONS = {"SE": "& Söner", "NO": "& Sønner", "DK": "& Sønner", "FI": "& Pojat"}
LEGAL_FORMS = {
    "SE": [("AB", 1)],
    "NO": [("AS", 1)],
    "DK": [("ApS", 3), ("A/S", 2)],
    "FI": [("Oy", 4), ("Oy Ab", 1)],
}

OWNERSHIP = ("private", "family", "public", "cooperative", "foreign_owned")
EDUCATION = ("compulsory", "upper_secondary", "vocational", "bachelor", "master", "doctorate")
HOUSEHOLDS = ("single", "couple", "family_with_children", "single_parent", "senior_household")
GENDERS = ("female", "male", "other")
ACQUISITION = {  # channel -> (B2C weight, B2B weight, median cost in EUR; 0 = free channel)
    "organic_search": (30, 12, 0.0),
    "paid_search": (22, 10, 45.0),
    "social": (16, 4, 25.0),
    "referral": (12, 14, 0.0),
    "events": (3, 16, 180.0),
    "partner": (3, 14, 120.0),
    "outbound_sales": (1, 22, 450.0),
    "direct": (13, 8, 0.0),
}

# category -> product line -> (median list price in EUR, product names, variants)
PRODUCT_LINES: dict[str, dict[str, tuple[float, list[str], list[str]]]] = {
    "product": {
        "Office Supplies": (12.0, ["Notebook A5", "Ballpoint Pen Set", "Desk Organizer", "Printer Paper A4, 80 g",
                                   "Sticky Notes", "Archive Box", "Whiteboard Markers"], ["", " 5-pack", " Eco"]),
        "Workplace Tech": (95.0, ['Monitor 27"', "USB-C Dock", "Wireless Headset", "Laptop Stand", "Webcam HD",
                                  "Keyboard Nordic Layout", "Conference Speaker"], ["", " Pro", " Plus"]),
        "Furniture": (320.0, ["Sit-Stand Desk", "Ergonomic Chair", "Acoustic Panel", "Meeting Table",
                              "Storage Cabinet", "Phone Booth"], ["", " Oak", " White", " Large"]),
    },
    "service": {
        "Managed IT": (180.0, ["Helpdesk", "Device Management", "Microsoft 365 Admin", "Network Monitoring",
                               "Endpoint Security"], [" Basic", " Standard", " Premium"]),
        "Cloud & Hosting": (60.0, ["Web Hosting", "Cloud Backup", "Virtual Server", "Managed Database",
                                   "Email Archiving"], [" S", " M", " L", " XL"]),
        "Support & Maintenance": (240.0, ["Service Agreement", "On-site Support", "Hardware Maintenance",
                                          "Extended Warranty"], [" Silver", " Gold", " Platinum"]),
    },
    "advice": {
        "Strategy & Growth": (1500.0, ["Strategy Workshop", "Market Entry Study", "Pricing Review",
                                       "Growth Sprint"], [" (half day)", " (full day)", " Nordic"]),
        "Compliance & Security": (1100.0, ["GDPR Review", "ISO 27001 Readiness", "NIS2 Gap Analysis",
                                           "Penetration Test", "Security Awareness Audit"], ["", " Plus"]),
        "Training": (350.0, ["Excel Masterclass", "Leadership Programme", "Sales Training", "Data Literacy Course",
                             "Project Management Course"], ["", " Online", " Classroom"]),
    },
    "data": {
        "Market Intelligence": (450.0, ["Nordic Retail Report", "Construction Outlook", "Consumer Trends Panel",
                                        "Industry Benchmark"], [" Annual", " Quarterly", " Single Issue"]),
        "Company Data": (220.0, ["Credit Check API", "Company Register Export", "Decision Maker List",
                                 "Risk Monitoring"], [" Starter", " Business", " Enterprise"]),
        "Analytics": (300.0, ["Sales Dashboard Licence", "Customer Insight Pack", "Churn Model",
                              "Geo Analytics"], ["", " Team", " Enterprise"]),
    },
}  # fmt: skip

_FOLD = str.maketrans({"æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "ß": "ss"})


def fold(text: str) -> str:
    """ASCII-fold a name for use in an e-mail address: 'Ødegård' -> 'odegard', 'Sæther' -> 'saether'."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return "".join(ch for ch in decomposed if ord(ch) < 128).lower()


def slug(text: str) -> str:
    """Company domain label: 'Ærø Data' -> 'aerodata'."""
    return re.sub(r"[^a-z0-9]", "", fold(text))


# --- Vectorised identity builders -------------------------------------------------------------------
# These turn integer draws into formatted strings with pyarrow kernels (no Python loop per row).

_ORG_MULT = 387_419  # coprime with 10: k -> (a*k + b) mod 10**6 is a bijection, so org numbers never repeat
ORG_CAPACITY = 10**6
# country -> (two alternative leading payload digits, mod-11 weights incl. the alternative digit)
_MOD11 = {"NO": ("9", (1, 2), (3, 2, 7, 6, 5, 4, 3, 2)), "DK": ("", (3, 4), (2, 7, 6, 5, 4, 3, 2)),
          "FI": ("", (2, 3), (7, 9, 10, 5, 8, 4, 2))}  # fmt: skip


def _digits(x: np.ndarray, n: int) -> np.ndarray:
    """(len(x), n) matrix of the decimal digits of x, most significant first."""
    return (x[:, None] // 10 ** np.arange(n - 1, -1, -1)) % 10


def _mod11_check(country: str, payload: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Check digit and validity for NO organisasjonsnummer, DK CVR and FI Y-tunnus payloads."""
    weights = np.array(_MOD11[country][2])
    s = (_digits(payload, len(weights)) * weights).sum(axis=1)
    if country == "DK":  # weighted sum incl. the check digit (weight 1) must be divisible by 11
        check = (-s) % 11
        return check, check != 10
    r = s % 11
    if country == "NO":
        check = np.where(r == 0, 0, 11 - r)
        return check, check != 10
    return np.where(r == 0, 0, 11 - r), r != 1  # FI


def org_numbers(country: str, seq: np.ndarray, offset: int) -> pa.Array:
    """Unique, check-digit-valid organisation numbers in the country's format for account sequence numbers."""
    base = (_ORG_MULT * seq.astype(np.int64) + offset) % ORG_CAPACITY
    if country == "SE":  # 556xxx-xxxx / 559xxx-xxxx with a Luhn check digit
        payload = 550_000_000 + np.where(seq % 3 == 0, 9, 6) * 1_000_000 + base
        prod = _digits(payload, 9) * np.array([2, 1, 2, 1, 2, 1, 2, 1, 2])
        check = (10 - (prod // 10 + prod % 10).sum(axis=1) % 10) % 10
        s = pa.array(payload * 10 + check).cast(pa.string())
        return pc.binary_join_element_wise(
            pc.utf8_slice_codeunits(s, 0, 6), pc.utf8_slice_codeunits(s, 6), "-"
        )
    lead, alts, _ = _MOD11[country]
    # Exactly one remainder is invalid, and switching the alternative digit changes the remainder,
    # so one of the two alternatives always yields a valid number.
    payload = alts[0] * ORG_CAPACITY + base
    check, ok = _mod11_check(country, payload)
    payload = np.where(ok, payload, alts[1] * ORG_CAPACITY + base)
    check = np.where(ok, check, _mod11_check(country, payload)[0])
    s = pa.array(payload * 10 + check).cast(pa.string())
    if country == "FI":
        return pc.binary_join_element_wise(
            pc.utf8_slice_codeunits(s, 0, 7), pc.utf8_slice_codeunits(s, 7), "-"
        )
    return pc.binary_join_element_wise(lead, s, "")


# country -> (prefixes, digit groups after the prefix)
_PHONES = {"SE": (["+46 70", "+46 72", "+46 73", "+46 76", "+46 79"], (3, 2, 2)),
           "NO": (["+47 9", "+47 4"], (2, 2, 3)),
           "DK": (["+45 2", "+45 3", "+45 4", "+45 5", "+45 6"], (1, 2, 2, 2)),
           "FI": (["+358 40", "+358 41", "+358 44", "+358 45", "+358 46"], (3, 4))}  # fmt: skip


def phones(rng: np.random.Generator, country: str, n: int) -> pa.Array:
    """Mobile numbers in the country's usual written format, e.g. '+46 70 123 45 67', '+47 912 34 567'."""
    prefixes, groups = _PHONES[country]
    digits = pa.array(rng.integers(0, 10 ** sum(groups), n)).cast(pa.string())
    digits = pc.utf8_lpad(digits, sum(groups), "0")
    parts, at = [pa.array(prefixes).take(pa.array(rng.integers(0, len(prefixes), n)))], 0
    if country in ("NO", "DK"):  # the first group continues the prefix digit without a space
        parts[0] = pc.binary_join_element_wise(parts[0], pc.utf8_slice_codeunits(digits, 0, groups[0]), "")
        at = groups[0]
        groups = groups[1:]
    for g in groups:
        parts.append(pc.utf8_slice_codeunits(digits, at, at + g))
        at += g
    return pc.binary_join_element_wise(*parts, " ")


def messy(rng: np.random.Generator, emails: pa.Array, p: np.ndarray | float) -> pa.Array:
    """Give a share p of e-mail addresses capitals and/or surrounding spaces, as typed by people."""
    n = len(emails)
    kind = np.where(rng.random(n) < p, rng.integers(1, 5, n), 0)
    out = pc.if_else(pa.array(kind == 1), pc.utf8_title(emails), emails)
    out = pc.if_else(pa.array(kind == 2), pc.utf8_upper(emails), out)
    out = pc.if_else(pa.array(kind == 3), pc.binary_join_element_wise(" ", emails, ""), out)
    return pc.if_else(pa.array(kind == 4), pc.binary_join_element_wise(emails, "  ", ""), out)
