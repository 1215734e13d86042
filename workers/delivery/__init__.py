"""Delivery: how each transformed output reaches the provider."""
