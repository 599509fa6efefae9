"""The HTTP API (``assetflow api``): routes over the asset graph and the ingest flows."""
