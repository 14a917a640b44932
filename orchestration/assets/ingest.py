"""Group ``raw``: the landing files, loaded into warehouse schema ``raw`` together or not at all.

One step loads every entity in one transaction: if any file is unreadable, no raw table changes, so the
warehouse never holds tonight's contacts with yesterday's orders.
"""

from datetime import datetime

import dagster as dg

from orchestration.resources import Warehouse
from segments.ingest.landing import find_landing_file, load_entities
from segments.ingest.schemas import ENTITIES


def raw_asset_key(entity_name: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", entity_name])


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            raw_asset_key(entity.name),
            group_name="raw",
            description=entity.description,
            kinds={"duckdb"},
            metadata={
                "landing_file": f"{entity.name}.csv or {entity.name}.parquet",
                "natural_key": entity.key,
            },
        )
        for entity in ENTITIES.values()
    ],
    can_subset=False,
)
def raw_tables(context: dg.AssetExecutionContext, warehouse: Warehouse):
    landing_dir = warehouse.settings.landing_dir
    files = [(entity, find_landing_file(landing_dir, entity)) for entity in ENTITIES.values()]
    with warehouse.connect() as con:
        results = load_entities(con, files, loaded_at=datetime.now(), run_id=context.run_id)
    for result in results:
        state = "unchanged (identical file already loaded)" if result.unchanged else "loaded"
        context.log.info(f"raw.{result.entity}: {result.rows:,} rows from {result.file_name}, {state}")
        yield dg.MaterializeResult(
            asset_key=raw_asset_key(result.entity),
            metadata={
                "dagster/row_count": result.rows,
                "file": result.file_name,
                "sha256": result.sha256,
                "encoding": result.encoding,
                "loaded_at": result.loaded_at.isoformat(timespec="seconds"),
                "unchanged": result.unchanged,
            },
        )
