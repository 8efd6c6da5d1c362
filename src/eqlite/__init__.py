"""eqlite: run Elastic EQL detection rules, unmodified, over security telemetry."""
