"""Publish/subscribe: the hub (rooms, presence, in-order delivery) and its backplane."""
