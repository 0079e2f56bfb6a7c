"""Apps the tests serve with real servers (gunicorn, uvicorn)."""
