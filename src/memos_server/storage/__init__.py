"""Everything that touches Postgres: models, repositories, the engine, migrations."""
