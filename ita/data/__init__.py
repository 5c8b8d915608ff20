"""Market data: sources (CSV/MT5), validation, the Parquet candle store, resampling, instruments."""
