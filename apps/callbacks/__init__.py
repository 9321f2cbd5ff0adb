"""Outbound queue callbacks."""
