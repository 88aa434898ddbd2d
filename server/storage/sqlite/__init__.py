"""The embedded SQLite engine: one writer with group commit, readers, backup."""
