"""WSGI entry point for gunicorn and other servers: ``service.wsgi:app``.

Built once in gunicorn's master (``preload_app``); :func:`service.settle.settle` then keeps the
collector off what start-up built before the workers fork.
"""

from service import create_app
from service.settle import settle

app = create_app()
settle()
