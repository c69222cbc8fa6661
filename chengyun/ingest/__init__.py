"""Ingestion (接入): device messages from MQTT or HTTP checked, de-duplicated and fed to the rule engine; bad ones
counted and quarantined; the device simulator."""
