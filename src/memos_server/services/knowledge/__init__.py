"""Knowledge bases: the request service (``bases``), documents read into blocks
(``documents``) and cut into passages (``passages``), the ingestion job (``ingest``), and
per-base HNSW indexes (``indexes``)."""
