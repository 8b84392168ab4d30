"""Identity: resident-ID validation, the keyed-HMAC person key, demographic linking, PII scans."""
