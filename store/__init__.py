"""Storage: SQLAlchemy 2 models, data access, engine factory and programmatic migrations."""
