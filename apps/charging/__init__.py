"""Charging: stations, connectors, charging sessions and their meter values."""
