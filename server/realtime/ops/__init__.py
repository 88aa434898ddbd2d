"""Protocol op handlers, one module per domain (rooms, messages, polls, ideas); table.py
assembles them into the operation table the connection dispatches on."""
