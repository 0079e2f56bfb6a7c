from burnguard.audit_stream import DEFAULT_TIMEOUT_S, base_url, emit, is_enabled, timeout_s

__all__ = ["DEFAULT_TIMEOUT_S", "base_url", "emit", "is_enabled", "timeout_s"]
