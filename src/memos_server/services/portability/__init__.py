"""Export and import: a project as a versioned JSON Lines file (``docs/export.md``)."""
