"""The segments library: landing files, the quality gate, the rule engine, the customer-value models,
publishing, reports and the commands that read them. It never imports Dagster: `orchestration/` is the Dagster
layer above it."""
