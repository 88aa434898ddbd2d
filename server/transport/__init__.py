"""Everything that relies on uvicorn's internals, fenced in one place."""
