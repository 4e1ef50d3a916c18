"""What the service does, independent of HTTP: ingest, search, keys, history."""
