"""Long-running loops (MQTT ingest) that only call the domain's services."""
