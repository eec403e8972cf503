"""Voltop's shared kernel: money, errors, time, base models. It holds no domain models."""
