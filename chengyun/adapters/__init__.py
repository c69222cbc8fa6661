"""Adapters to the outside world: file storage, messaging, notification, geocoding."""
