"""The DuckDB warehouse: connection, config, ingestion, staging, quarantine and table writes."""
