"""Group ``raw``: one asset per landing entity, loaded into warehouse schema ``raw``."""

from datetime import datetime

import dagster as dg

from orchestration.ingest.landing import find_landing_file, load_entity
from orchestration.ingest.schemas import ENTITIES, Entity
from orchestration.settings import Settings
from orchestration.warehouse import connect


def raw_asset_key(entity_name: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", entity_name])


def _raw_asset(entity: Entity) -> dg.AssetsDefinition:
    @dg.asset(
        key=raw_asset_key(entity.name),
        group_name="raw",
        description=entity.description,
        kinds={"duckdb"},
        metadata={"landing_file": f"{entity.name}.csv or {entity.name}.parquet", "natural_key": entity.key},
    )
    def load(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        settings = Settings.from_env()
        path = find_landing_file(settings.landing_dir, entity)
        with connect(settings) as con:
            result = load_entity(con, entity, path, loaded_at=datetime.now(), run_id=context.run_id)
        state = "unchanged (identical file already loaded)" if result.unchanged else "loaded"
        context.log.info(f"{entity.table}: {result.rows:,} rows from {result.file_name}, {state}")
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": result.rows,
                "file": result.file_name,
                "sha256": result.sha256,
                "loaded_at": result.loaded_at.isoformat(timespec="seconds"),
                "unchanged": result.unchanged,
            }
        )

    return load


raw_assets = [_raw_asset(entity) for entity in ENTITIES.values()]
