"""The network's rules: accounts, discussions, polls, ideas, privacy, audit, reads, admin.

Plain synchronous functions of a read connection or a write transaction, run by storage."""
