"""HTTP: the MemOS wire format, auth and routes. Nothing outside this package knows FastAPI."""
