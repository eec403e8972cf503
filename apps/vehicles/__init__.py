"""Vehicles: the fleet's electric vehicles, who drives them when, and their odometer."""
