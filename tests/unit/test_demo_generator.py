"""Properties of the seeded demo-data generator, checked on the files it writes (2,000 customers)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from types import SimpleNamespace

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from segments.demo import generator
from segments.demo.generator import generate
from segments.ingest.schemas import (
    CHANNELS,
    COUNTRIES,
    EMPLOYEE_BANDS,
    ENTITIES,
    INTERACTION_CHANNELS,
    INTERACTION_TYPES,
    PRODUCT_CATEGORIES,
    SALES_CHANNELS,
    TECH_MATURITY,
)

N, SEED, AS_OF = 2000, 42, date(2025, 6, 30)
MIDNIGHT = datetime(2025, 6, 30)
FILES = {name: f"{name}.csv" if name in ("crm_accounts", "crm_contacts", "sales_products") else f"{name}.parquet"
         for name in ENTITIES}  # fmt: skip
ARROW = {"VARCHAR": pa.string(), "INTEGER": pa.int32(), "BOOLEAN": pa.bool_(), "TIMESTAMP": pa.timestamp("us"),
         "DATE": pa.date32(), "DECIMAL(18,2)": pa.decimal128(18, 2), "DECIMAL(12,2)": pa.decimal128(12, 2),
         "DECIMAL(5,2)": pa.decimal128(5, 2)}  # fmt: skip
EUR = "case o.currency when 'SEK' then 11.2 when 'NOK' then 11.6 when 'DKK' then 7.46 else 1 end"
# Every order resolved to a customer the way the pipeline should: customer_ref (contact -> its account),
# else normalised e-mail, else org number without dash; the rest are webshop guests keyed by e-mail.
RESOLVE = """
create table person as select contact_id, coalesce(account_id, contact_id) as cust, country,
    lower(trim(email)) as em from crm_contacts;
create table resolved as
with o as (select *, case when customer_ref is null then lower(trim(email)) end as em_key,
                  case when customer_ref is null and email is null then replace(org_number, '-', '') end as org_key
           from sales_orders)
select o.*, coalesce(a1.account_id, p1.cust, p2.cust, a2.account_id, 'guest:' || o.em_key) as cust,
       coalesce(a1.country, p1.country, p2.country, a2.country) as cust_country
from o
left join crm_accounts a1 on o.customer_ref = a1.account_id
left join person p1 on o.customer_ref = p1.contact_id
left join person p2 on o.em_key = p2.em
left join (select *, replace(org_number, '-', '') as org from crm_accounts) a2 on o.org_key = a2.org;
create table lines as select l.*, r.cust, r.ordered_at, r.currency from sales_order_lines l
    join resolved r using (order_id);
create table revenue as select cust, sum(quantity * unit_price * (1 - discount_pct / 100) / {eur}) as eur
    from lines o group by 1;
create table buyers as select cust, min(ordered_at) as first_at, max(ordered_at) as last_at from resolved group by 1;
""".replace("{eur}", EUR)


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    out = tmp_path_factory.mktemp("landing")
    messages: list[str] = []
    rows = generate(out, N, seed=SEED, as_of=AS_OF, progress=messages.append)
    return SimpleNamespace(dir=out, rows=rows, messages=messages)


@pytest.fixture(scope="module")
def db(landing):
    con = duckdb.connect()
    for name, entity in ENTITIES.items():
        path = landing.dir / FILES[name]
        if path.suffix == ".csv":  # explicit contract types: any value that does not cast fails the load
            con.execute(f"create table {name} as select * from read_csv(?, header=true, columns=?)",
                        [str(path), entity.columns])  # fmt: skip
        else:
            con.execute(f"create table {name} as select * from read_parquet(?)", [str(path)])
    con.execute(RESOLVE)
    return con


def one(con, sql: str):
    return con.execute(sql).fetchone()[0]


def test_files_columns_and_types_follow_the_contract(landing, db):
    assert sorted(p.name for p in landing.dir.iterdir()) == sorted(FILES.values())  # no temp files left
    for name, entity in ENTITIES.items():
        path = landing.dir / FILES[name]
        if path.suffix == ".csv":
            header = path.read_text(encoding="utf-8").split("\n", 1)[0]
            assert header == ",".join(entity.columns)
        else:
            schema = pq.read_schema(path)
            assert schema.names == list(entity.columns)
            assert [schema.field(c).type for c in entity.columns] == [
                ARROW[t] for t in entity.columns.values()
            ]
        db_types = [r[1] for r in db.execute(f"describe {name}").fetchall()]
        assert db_types == list(entity.columns.values()), name
        assert one(db, f"select count(*) from {name}") == landing.rows[name] > 0


def test_csv_text_format(landing):
    con = duckdb.connect()
    path = str(landing.dir / "crm_contacts.csv")
    raw = con.execute("select * from read_csv(?, header=true, all_varchar=true)", [path]).fetch_arrow_table()
    assert set(raw["consent_sms"].to_pylist()) == {"true", "false"}
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", t) for t in raw["created_at"].to_pylist())
    assert all(re.fullmatch(r"\d+\.\d\d", c) for c in raw["acquisition_cost"].to_pylist())
    accounts = raw["account_id"].to_pylist()
    assert None in accounts and "" not in accounts  # empty field = NULL
    products = (landing.dir / "sales_products.csv").read_text(encoding="utf-8")
    assert '"Printer Paper A4, 80 g' in products and '"Monitor 27""' in products  # RFC 4180 quoting


def test_same_seed_is_byte_identical_and_seed_matters(landing, tmp_path):
    again = generate(tmp_path / "again", N, seed=SEED, as_of=AS_OF)
    assert again == landing.rows
    for file in FILES.values():
        assert (tmp_path / "again" / file).read_bytes() == (landing.dir / file).read_bytes(), file
    generate(tmp_path / "other", 300, seed=SEED + 1, as_of=AS_OF)
    assert (tmp_path / "other" / "crm_contacts.csv").read_bytes()[:5000] != (
        landing.dir / "crm_contacts.csv"
    ).read_bytes()[:5000]


def test_customers_are_accounts_plus_b2c_contacts(db):
    accounts = one(db, "select count(*) from crm_accounts")
    b2c = one(db, "select count(*) from crm_contacts where account_id is null")
    assert accounts + b2c == N
    assert 0.15 <= accounts / N <= 0.25
    per_account = db.execute("""select min(n), max(n), count(*) from (select a.account_id, count(c.contact_id) n
        from crm_accounts a left join crm_contacts c using (account_id) group by 1)""").fetchone()
    assert per_account == (1, 4, accounts)
    prospects = one(db, "select count(*) from (select coalesce(account_id, contact_id) cust from crm_contacts "
                        "group by 1) where cust not in (select cust from buyers)")  # fmt: skip
    assert 0.10 <= prospects / N <= 0.20
    guests = one(db, "select count(*) from buyers where cust like 'guest:%'")
    assert 0.03 <= guests / N <= 0.07


def test_ids_and_references(db):
    patterns = {"crm_accounts": r"^A\d{7}$", "crm_contacts": r"^C\d{7}$", "sales_products": r"^P\d{4}$",
                "sales_orders": r"^O\d{8}$", "sales_order_lines": r"^L\d{9}$", "crm_interactions": r"^I\d{9}$"}  # fmt: skip
    for name, pattern in patterns.items():
        key = ENTITIES[name].key
        assert one(db, f"select count(*) = count(distinct {key}) from {name}")
        assert one(db, f"select bool_and(regexp_matches({key}, '{pattern}')) from {name}")
    orphans = {
        "contacts": "select count(*) from crm_contacts where account_id not in (select account_id from crm_accounts)",
        "lines": "select count(*) from sales_order_lines where order_id not in (select order_id from sales_orders)",
        "products": "select count(*) from sales_order_lines where product_id not in (select product_id from sales_products)",
        "interactions": "select count(*) from crm_interactions where contact_id not in (select contact_id from crm_contacts)",
        "refs": "select count(*) from sales_orders where customer_ref not in "
        "(select account_id from crm_accounts union all select contact_id from crm_contacts)",
    }  # fmt: skip
    for what, sql in orphans.items():
        assert one(db, sql) == 0, what


def test_accounts_look_real(db):
    orgs = db.execute("select country, org_number from crm_accounts").fetchall()
    formats = {"SE": r"\d{6}-\d{4}", "NO": r"\d{9}", "DK": r"\d{8}", "FI": r"\d{7}-\d"}
    assert all(re.fullmatch(formats[c], org) for c, org in orgs)
    assert len({org for _, org in orgs}) == len(orgs)
    for _, org in (x for x in orgs if x[0] == "SE"):  # Swedish org numbers carry a Luhn check digit
        digits = [int(d) for d in org.replace("-", "")]
        assert sum(d * 2 - 9 * (d > 4) if i % 2 == 0 else d for i, d in enumerate(digits)) % 10 == 0, org
    row = db.execute(f"""select bool_and(employee_band in {EMPLOYEE_BANDS}), bool_and(tech_maturity in {TECH_MATURITY}),
        bool_and(country in {COUNTRIES}), count(distinct industry), min(founded_year), max(founded_year),
        count(distinct ownership), bool_or(regexp_matches(name, '[ÅÄÖÆØåäöæø]')),
        bool_or(regexp_matches(name, ' (AB|AS|ApS|A/S|Oy)$')) from crm_accounts""").fetchone()  # fmt: skip
    assert row[:3] == (True, True, True) and row[3] >= 10 and row[4] >= 1900 and row[5] <= AS_OF.year
    assert row[6] == 5 and row[7] and row[8]
    # Revenue rises with the employee band: medians in band order are increasing.
    by_band = dict(
        db.execute("select employee_band, median(annual_revenue) from crm_accounts group by 1").fetchall()
    )
    medians = [by_band[b] for b in EMPLOYEE_BANDS if b in by_band]
    assert len(medians) >= 4 and medians == sorted(medians)
    cities = db.execute("select distinct country, region, city from crm_accounts").fetchall()
    assert ("SE", "Stockholms län", "Stockholm") in cities and ("NO", "Troms", "Tromsø") in cities


def test_contacts_look_real(db):
    c = "from crm_contacts"
    assert one(db, f"select avg(regexp_matches(first_name || last_name, '[åäöæøéÅÄÖÆØÉ]')::int) {c}") > 0.2
    assert one(db, f"select count(distinct lower(trim(email))) = count(*) {c}")
    assert one(db, f"select bool_and(regexp_matches(trim(email), '^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+$')) {c}")
    messy = one(db, f"select avg((email <> lower(trim(email)))::int) {c}")
    assert 0.01 <= messy <= 0.06
    phones = {"SE": r"\+46 7\d \d{3} \d\d \d\d", "NO": r"\+47 [49]\d\d \d\d \d{3}",
              "DK": r"\+45 \d\d \d\d \d\d \d\d", "FI": r"\+358 4\d \d{3} \d{4}"}  # fmt: skip
    rows = db.execute(f"select country, phone {c} where phone is not null").fetchall()
    assert all(re.fullmatch(phones[country], phone) for country, phone in rows)
    consent = db.execute(f"""select count(*) filter (where consent_email is null or consent_sms is null
        or consent_phone is null or consent_post is null), avg(consent_email::int), avg(consent_sms::int),
        avg(consent_phone::int), avg(consent_post::int) {c}""").fetchone()  # fmt: skip
    assert consent[0] == 0
    assert all(
        abs(got - want) < 0.05 for got, want in zip(consent[1:], (0.70, 0.35, 0.45, 0.25), strict=True)
    )
    assert 0.6 <= one(db, f"select avg((preferred_channel is null)::int) {c}") <= 0.8
    assert one(db, f"select bool_and(preferred_channel in {CHANNELS}) {c}")
    assert one(db, f"select min(birth_year) >= 1940 and max(birth_year) <= 2006 {c}")
    assert one(db, f"select count(distinct gender) {c}") == 3
    seniors = db.execute(f"""select avg((household = 'senior_household')::int) filter (where birth_year < 1955),
        avg((household = 'senior_household')::int) filter (where birth_year > 1975) {c}""").fetchone()  # fmt: skip
    assert seniors[0] > 0.3 and seniors[1] == 0
    cost = dict(db.execute(f"select acquisition_channel, avg(acquisition_cost) {c} group by 1").fetchall())
    assert cost["organic_search"] == cost["direct"] == cost["referral"] == 0
    assert min(cost["paid_search"], cost["events"], cost["outbound_sales"]) > 10
    assert cost["outbound_sales"] > cost["paid_search"]


def test_orders_identify_customers_like_real_exports(db):
    assert (
        one(db, "select count(*) from sales_orders where coalesce(customer_ref, email, org_number) is null")
        == 0
    )
    assert one(db, "select count(*) from resolved where cust is null") == 0
    assert one(db, "select count(*) from resolved where customer_ref like 'C%' and cust like 'A%'") > 0
    email_only = one(
        db,
        """select avg((customer_ref is null)::int) from resolved
        where sales_channel = 'webshop' and cust not like 'guest:%'""",
    )
    assert 0.05 <= email_only <= 0.12
    assert (
        one(db, "select count(*) from resolved where email is not null and email <> lower(trim(email))") > 0
    )
    org_only = db.execute("""select count(*), count(*) filter (where org_number not like '%-%'
        and cust_country in ('SE', 'FI')) from resolved where customer_ref is null and email is null""").fetchone()
    b2b_orders = one(db, "select count(*) from resolved where cust like 'A%'")
    assert 0.01 <= org_only[0] / b2b_orders <= 0.04 and org_only[1] > 0
    currency = {"SE": "SEK", "NO": "NOK", "DK": "DKK", "FI": "EUR"}
    pairs = db.execute(
        "select distinct cust_country, currency from resolved where cust_country is not null"
    ).fetchall()
    assert all(currency[country] == cur for country, cur in pairs)
    channels = dict(db.execute("""select cust like 'A%', avg((sales_channel = 'webshop')::int) from resolved
        group by 1""").fetchall())  # fmt: skip
    assert channels[False] == 1 and channels[True] < 0.35
    assert one(db, f"select bool_and(sales_channel in {SALES_CHANNELS}) from sales_orders")


def test_order_lines_and_returns(db):
    per_order = db.execute("""select min(n), max(n) from (select order_id, count(*) n from sales_order_lines
        group by 1 having min(quantity) > 0)""").fetchone()  # fmt: skip
    assert per_order == (1, 6)
    row = db.execute("""select min(quantity) filter (where quantity > 0), max(quantity), min(unit_price),
        min(discount_pct), max(discount_pct), avg((discount_pct = 0)::int), count(*) filter (where quantity = 0)
        from sales_order_lines""").fetchone()  # fmt: skip
    assert row[0] == 1 and 5 <= row[1] <= 20 and row[2] > 0 and row[6] == 0
    assert row[3] == 0 and 25 <= row[4] <= 30 and 0.5 < row[5] < 0.95  # mostly undiscounted
    assert (
        one(
            db,
            """select count(*) from (select order_id from sales_order_lines group by 1
        having min(sign(quantity)) <> max(sign(quantity)))""",
        )
        == 0
    )  # a return order only returns
    returns = one(db, "select count(distinct order_id) from sales_order_lines where quantity < 0")
    assert 0.02 <= returns / one(db, "select count(*) from sales_orders") <= 0.07
    unmatched = one(db, """select count(*) from lines r where quantity < 0 and not exists (select 1 from lines p
        where p.cust = r.cust and p.product_id = r.product_id and p.quantity >= -r.quantity
        and p.ordered_at < r.ordered_at)""")  # fmt: skip
    assert unmatched == 0
    early = one(db, """select count(*) from lines l join sales_products p using (product_id)
        where l.ordered_at < p.launch_date""")  # fmt: skip
    assert early == 0


def test_products(db):
    row = db.execute(f"""select count(*), count(distinct category), bool_and(category in {PRODUCT_CATEGORIES}),
        count(distinct product_line), min(launch_date), max(launch_date),
        avg((launch_date > date '{AS_OF}' - interval 365 day)::int), median(list_price), max(list_price)
        from sales_products""").fetchone()  # fmt: skip
    assert 150 <= row[0] <= 250 and row[1] == 4 and row[2] and row[3] == 12
    assert AS_OF - timedelta(days=6 * 366) <= row[4] and row[5] <= AS_OF and 0.05 <= row[6] <= 0.35
    assert row[8] > 10 * float(row[7])  # heavy-tailed prices


def test_spend_is_heavy_tailed(db):
    share = one(
        db,
        """select sum(eur) filter (where rn <= 0.2 * n) / sum(eur) from
        (select eur, row_number() over (order by eur desc) rn, count(*) over () n from revenue)""",
    )
    assert 0.70 <= share <= 0.80
    per_buyer = one(db, "select count(*) / (select count(*) from buyers) from sales_order_lines")
    assert 7 <= per_buyer <= 13


def test_every_lifecycle_state_is_represented(db):
    states = dict(db.execute(f"""select state, count(*) / sum(count(*)) over () from (select case
        when first_at >= date '{AS_OF}' - interval 90 day then 'new'
        when last_at >= date '{AS_OF}' - interval 180 day then 'active'
        when last_at >= date '{AS_OF}' - interval 365 day then 'lapsing' else 'lost' end as state
        from buyers) group by 1""").fetchall())  # fmt: skip
    assert set(states) == {"new", "active", "lapsing", "lost"}
    assert min(states.values()) >= 0.05
    assert one(db, "select min(first_at) from buyers") <= MIDNIGHT - timedelta(days=3 * 365 + 180)


def test_nothing_happens_in_the_future_or_before_creation(db):
    for table, col in [("crm_accounts", "created_at"), ("crm_contacts", "created_at"),
                       ("sales_orders", "ordered_at"), ("crm_interactions", "occurred_at")]:  # fmt: skip
        assert one(db, f"select max({col}) from {table}") < MIDNIGHT, table
    late = one(db, """select count(*) from crm_contacts c join buyers b on b.cust = coalesce(c.account_id, c.contact_id)
        where c.created_at > b.first_at""")  # fmt: skip
    assert late == 0
    assert one(db, "select count(*) from crm_accounts a join buyers b on b.cust = a.account_id "
                   "where a.created_at > b.first_at") == 0  # fmt: skip
    assert one(db, "select count(*) from crm_interactions i join crm_contacts c using (contact_id) "
                   "where i.occurred_at < c.created_at") == 0  # fmt: skip


def test_interactions(db):
    pairs = set(db.execute("select distinct interaction_type, channel from crm_interactions").fetchall())
    allowed = {("email_sent", "email"), ("email_opened", "email"), ("email_clicked", "email"), ("web_visit", "web"),
               ("meeting", "meeting"), ("call", "phone"), ("support_ticket", "email"), ("support_ticket", "phone")}  # fmt: skip
    assert pairs == allowed
    assert all(t in INTERACTION_TYPES and c in INTERACTION_CHANNELS for t, c in pairs)
    assert one(db, "select min(occurred_at) from crm_interactions") >= MIDNIGHT - timedelta(days=730)
    orphan_opens = one(
        db,
        """select count(*) from crm_interactions o where interaction_type in
        ('email_opened', 'email_clicked') and not exists (select 1 from crm_interactions s where
        s.contact_id = o.contact_id and s.interaction_type = 'email_sent' and s.occurred_at < o.occurred_at)""",
    )
    assert orphan_opens == 0
    per = dict(db.execute("""select b.cust is not null, count(i.interaction_id) / count(distinct p.cust)
        from person p left join buyers b using (cust) left join crm_interactions i using (contact_id)
        group by 1""").fetchall())  # fmt: skip
    assert 15 <= per[True] <= 30 and per[False] < per[True] / 2
    # Clustered around purchases: more interactions in the week before an order than in an average week.
    near = one(db, """select count(*) from crm_interactions i join person p using (contact_id) join resolved r
        on r.cust = p.cust and i.occurred_at between r.ordered_at - interval 7 day and r.ordered_at
        where i.interaction_type = 'web_visit'""")  # fmt: skip
    assert near > 0.2 * one(db, "select count(*) from crm_interactions where interaction_type = 'web_visit'")


def test_progress_reports_chunks_and_entities(landing):
    assert any(m.startswith("chunk 1/1") for m in landing.messages)
    for file in FILES.values():
        assert any(m.startswith(file) for m in landing.messages), file


def test_as_of_defaults_to_today(tmp_path):
    generate(tmp_path, 50, seed=1)
    latest = duckdb.sql(
        f"select max(ordered_at) from read_parquet('{tmp_path}/sales_orders.parquet')"
    ).fetchone()[0]
    assert date.today() - timedelta(days=120) < latest.date() < date.today()


def test_failure_leaves_no_partial_files(tmp_path, monkeypatch):
    generate(tmp_path, 50, seed=1, as_of=AS_OF)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(generator, "make_interactions", boom)
    with pytest.raises(RuntimeError):
        generate(tmp_path, 80, seed=2, as_of=AS_OF)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # old files intact, no temp files
    with pytest.raises(ValueError):
        generate(tmp_path, 0)
