"""Who is calling: credentials in, a Principal (or a refusal) out. No Flask here; gateway/web/auth.py
asks, and turns refusals into SCIM errors."""
