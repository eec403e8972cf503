"""Drivers: the people who drive the fleet's vehicles, and the tokens they charge with."""
