"""The tables, described once for SQLAlchemy Core (queries) and Alembic (migrations' target).

Times are ISO 8601 text in UTC (``2026-11-22T10:00:00+00:00``): they sort and compare as text on
both databases and read the same in a SQLite file as in PostgreSQL. JSON lists are text, too:
they are only ever read back whole.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, Index, Integer, MetaData, Table, Text

metadata = MetaData()

issued_card = Table(
    "issued_card", metadata,
    Column("card_uuid", Text, primary_key=True),
    Column("service_id", Text, nullable=False),
    Column("rule_id", Text, nullable=False),
    Column("rule_version", Text, nullable=False),
    Column("hook_instance", Text, nullable=False),
    Column("issued_at", Text, nullable=False),
    Column("client_iss", Text),
    #: JSON list of the card's suggestion uuids: feedback may accept only these.
    Column("suggestions", Text),
    #: JSON object, suggestion uuid → {"actions": [types], "applicable": bool} (service.profiles.offered).
    Column("offered", Text),
    #: 1 when the card was about a draft imaging order (an IMG-* rule), else 0. Derived from the rule only.
    Column("draft_imaging", Integer),
    #: The FHIR patient id; only with LBP_CDS_STORE_PATIENT_ID=1, else NULL.
    Column("patient_id", Text),
)
Index("issued_card_issued_at", issued_card.c.issued_at)

feedback = Table(
    "feedback", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("service_id", Text, nullable=False),
    Column("card_uuid", Text, nullable=False),
    Column("rule_id", Text),
    Column("rule_version", Text),
    Column("outcome", Text, nullable=False),
    Column("accepted_suggestions", Text),
    Column("override_system", Text),
    Column("override_code", Text),
    Column("override_display", Text),
    Column("user_comment", Text),
    Column("outcome_timestamp", Text, nullable=False),
    Column("received_at", Text, nullable=False),
    Column("raw", Text, nullable=False),
    Column("client_iss", Text),
    #: 1 when the client could apply every accepted suggestion, 0 when not, NULL when unknown.
    Column("applied", Integer),
    sqlite_autoincrement=True,
)
Index("feedback_rule", feedback.c.rule_id, feedback.c.outcome)
Index("feedback_card", feedback.c.card_uuid)

jti = Table(
    "jti", metadata,
    Column("iss", Text, primary_key=True),
    Column("jti", Text, primary_key=True),
    Column("expires_at", Float, nullable=False),
)
Index("jti_expiry", jti.c.expires_at)

#: Keyed hashes of cards already shown (service.memory), until they expire: no patient data.
card_memory = Table(
    "card_memory", metadata,
    Column("key", Text, primary_key=True),
    Column("expires_at", Float, nullable=False),
)
Index("card_memory_expiry", card_memory.c.expires_at)
