"""Devices (设备): device types as data, devices bound to places and residents, their credentials and status."""
