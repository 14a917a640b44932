"""The landing contract: which files the pipeline reads and the columns each must have.

One entry per raw entity. The demo generator writes exactly these files and columns; the loader checks
every landing file against them (names, order-independent; types via DuckDB casts) and the dbt sources in
``dbt_project/models/staging/*/_*__sources.yml`` declare the same tables (tests/unit/test_dbt_sources.py
checks they do). Column types are DuckDB types.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entity:
    name: str  # raw table name, e.g. "crm_accounts"
    source: str  # "crm" or "sales"
    key: str  # natural key column
    columns: dict[str, str]  # column -> DuckDB type, in the order the generator writes them
    description: str

    @property
    def table(self) -> str:
        return f"raw.{self.name}"


ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in [
        Entity(
            name="crm_accounts",
            source="crm",
            key="account_id",
            description="B2B accounts (companies) from the CRM, with firmographics.",
            columns={
                "account_id": "VARCHAR",
                "org_number": "VARCHAR",
                "name": "VARCHAR",
                "industry": "VARCHAR",
                "employee_band": "VARCHAR",
                "annual_revenue": "DECIMAL(18,2)",
                "country": "VARCHAR",
                "region": "VARCHAR",
                "city": "VARCHAR",
                "founded_year": "INTEGER",
                "tech_maturity": "VARCHAR",
                "ownership": "VARCHAR",
                "created_at": "TIMESTAMP",
            },
        ),
        Entity(
            name="crm_contacts",
            source="crm",
            key="contact_id",
            description="People in the CRM: B2C customers (no account_id) and contacts at B2B accounts, "
            "with demographics and marketing consent per channel.",
            columns={
                "contact_id": "VARCHAR",
                "account_id": "VARCHAR",
                "first_name": "VARCHAR",
                "last_name": "VARCHAR",
                "email": "VARCHAR",
                "phone": "VARCHAR",
                "birth_year": "INTEGER",
                "gender": "VARCHAR",
                "education": "VARCHAR",
                "household": "VARCHAR",
                "country": "VARCHAR",
                "region": "VARCHAR",
                "city": "VARCHAR",
                "consent_email": "BOOLEAN",
                "consent_sms": "BOOLEAN",
                "consent_phone": "BOOLEAN",
                "consent_post": "BOOLEAN",
                "preferred_channel": "VARCHAR",
                "acquisition_channel": "VARCHAR",
                "acquisition_cost": "DECIMAL(12,2)",
                "created_at": "TIMESTAMP",
            },
        ),
        Entity(
            name="crm_interactions",
            source="crm",
            key="interaction_id",
            description="Touchpoints logged by the CRM and marketing tools.",
            columns={
                "interaction_id": "VARCHAR",
                "contact_id": "VARCHAR",
                "interaction_type": "VARCHAR",
                "channel": "VARCHAR",
                "occurred_at": "TIMESTAMP",
            },
        ),
        Entity(
            name="sales_products",
            source="sales",
            key="product_id",
            description="Product catalogue from the ERP.",
            columns={
                "product_id": "VARCHAR",
                "name": "VARCHAR",
                "category": "VARCHAR",
                "product_line": "VARCHAR",
                "launch_date": "DATE",
                "list_price": "DECIMAL(12,2)",
            },
        ),
        Entity(
            name="sales_orders",
            source="sales",
            key="order_id",
            description="Order headers from the ERP and the webshop. customer_ref is the CRM id when known; "
            "webshop guest orders carry only an email, some B2B orders only an org number.",
            columns={
                "order_id": "VARCHAR",
                "customer_ref": "VARCHAR",
                "email": "VARCHAR",
                "org_number": "VARCHAR",
                "ordered_at": "TIMESTAMP",
                "sales_channel": "VARCHAR",
                "currency": "VARCHAR",
            },
        ),
        Entity(
            name="sales_order_lines",
            source="sales",
            key="order_line_id",
            description="Order lines. Returns are lines with a negative quantity.",
            columns={
                "order_line_id": "VARCHAR",
                "order_id": "VARCHAR",
                "product_id": "VARCHAR",
                "quantity": "INTEGER",
                "unit_price": "DECIMAL(12,2)",
                "discount_pct": "DECIMAL(5,2)",
            },
        ),
    ]
}

# Allowed vocabularies: the generator draws from them, quality suites and rules refer to them.
CHANNELS = ("email", "sms", "phone", "post")
CURRENCIES = ("SEK", "NOK", "DKK", "EUR")
COUNTRIES = ("SE", "NO", "DK", "FI")
INTERACTION_TYPES = (
    "email_sent",
    "email_opened",
    "email_clicked",
    "web_visit",
    "meeting",
    "call",
    "support_ticket",
)
INTERACTION_CHANNELS = ("email", "web", "phone", "meeting", "sms")
PRODUCT_CATEGORIES = ("product", "service", "advice", "data")
EMPLOYEE_BANDS = ("1-9", "10-49", "50-249", "250-999", "1000+")
TECH_MATURITY = ("low", "medium", "high")
SALES_CHANNELS = ("webshop", "sales_rep", "partner")
