"""The PostgreSQL engine: several server processes sharing one database (issue 14)."""
