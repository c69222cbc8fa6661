"""Devices (设备): device types as data, device instances bound to places and residents, their credentials and status."""
