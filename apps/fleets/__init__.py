"""Fleets: the tenant (a fleet), its depots, cost centers and the people who manage it."""
