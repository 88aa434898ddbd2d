"""The operation table: one module of protocol op handlers per domain."""
