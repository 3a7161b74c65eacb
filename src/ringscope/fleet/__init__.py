"""The fleet view (`serve --from nats://...`): every host's exported stream,
read back from JetStream and served over the same HTTP API.
- feed.py: one ordered consumer per client, filters, `host` on every event;
- hosts.py: the hosts and their counters, from their heartbeats;
- app.py, metrics.py: the HTTP endpoints;
- serve.py: connecting, serving, stopping."""

from .serve import serve_fleet

__all__ = ["serve_fleet"]
