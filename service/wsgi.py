"""WSGI entry point for gunicorn and other servers: ``service.wsgi:app``."""

from service import create_app

app = create_app()
