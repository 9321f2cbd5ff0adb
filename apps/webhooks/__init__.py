"""Webhook subscriptions registered with the CX API."""
