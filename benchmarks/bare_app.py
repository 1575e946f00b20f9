"""The yardstick: a Flask app that only decodes the body and returns a fixed card.

Run under the same gunicorn settings as the service (``deploy/gunicorn.conf.py``, same workers
and threads), in the same benchmark run, so the ratio measures our work, not the machine.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, jsonify, request

app = Flask(__name__)
CARD = {"cards": [{"uuid": "00000000-0000-4000-8000-000000000000", "summary": "Bare card", "indicator": "info",
                   "source": {"label": "bare"}}]}


@app.post("/cds-services/<service_id>")
def call(service_id: str) -> Any:
    json.loads(request.get_data())
    return jsonify(CARD)
