"""The CX API boundary: client, token cache, tenants and the API call log."""
