"""Storage: the one place that talks to a database engine."""
