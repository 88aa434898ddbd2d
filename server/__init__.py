"""A real-time discussion server for patient and public involvement networks."""

__version__ = "0.1.0"
