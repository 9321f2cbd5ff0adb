"""Inboxes mirrored from the CX API."""
