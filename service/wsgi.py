"""WSGI entry point for gunicorn and other servers: ``service.wsgi:app``.

After the app is built (knowledge, value sets, FHIR models, schemas: objects that live as long
as the process), ``gc.freeze()`` moves them out of the collector's sight: a full collection
then never walks them again, and with gunicorn's ``preload_app`` the forked workers do not
touch (and so copy) those pages when the collector runs.
"""

import gc

from service import create_app

app = create_app()
gc.collect()
gc.freeze()
