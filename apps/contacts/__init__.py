"""Customer contacts pushed to the CX API."""
