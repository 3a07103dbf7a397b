"""The gateway's inbound authentication: bearer tokens (JWT) verified against the configured keys or
an identity provider's JWKS, a cache of verified tokens, and a queue's access rules."""
