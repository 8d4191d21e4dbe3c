"""Stores: ``ContextStore`` implementations (in-memory now; SQLite and PostgreSQL later)."""
