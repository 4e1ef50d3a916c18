"""One repository per table; all SQL of the service lives here."""
