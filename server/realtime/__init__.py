"""The WebSocket side: the endpoint, one Connection per socket, the op table, the access watcher."""
