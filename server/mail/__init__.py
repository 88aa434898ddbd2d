"""Email: messages built from templates, sent through SMTP or written to a folder, and the
sender task that delivers the outbox (server/domain/outbox.py) after commit."""
