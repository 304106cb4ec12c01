"""Security tests: TLS and mTLS, authentication and authorisation."""
