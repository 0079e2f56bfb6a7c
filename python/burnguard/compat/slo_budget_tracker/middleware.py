from burnguard.asgi import ClassifyFn, SLOMiddleware, default_classifier

__all__ = ["ClassifyFn", "SLOMiddleware", "default_classifier"]
