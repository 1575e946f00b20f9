"""Command line: ``python -m service`` serves; subcommands work without a server.

- ``python -m service --host 127.0.0.1 --port 8080``: the development server.
- ``python -m service evaluate REQUEST.json``: cards and rule trace for a hook request.
- ``python -m service check-knowledge``: validate ``cards/`` and ``fhir_profiles/``.
- ``python -m service token --aud URL``: a fresh JWT from the local development client.
- ``python -m service scenarios [ID] [--request N | --run]``: the example scenarios (examples/scenarios/).
- ``python -m service load-fhir SERVER_URL [ID…]``: load example patients into a FHIR server.
- ``python -m service demo-client``: the clients-file entry of the demo page's client.
- ``python -m service report [--since] [--until] [--format table|json|csv]``: what the advice did.
- ``python -m service db upgrade|current|purge``: the database's schema and retention.
- ``python -m service dry-run EXPORT``: replay a FHIR Bulk Data export through the hooks; burden table.
- ``python -m service config-reference``, ``python -m service openapi``: docs/configuration.md, docs/openapi.json.
"""

from __future__ import annotations

import functools
import json
import sys
import tempfile
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from werkzeug.serving import WSGIRequestHandler

from .errors import CdsError, operation_outcome
from .profiles import PROFILES


class _QuietServerHandler(WSGIRequestHandler):
    """The development server without ``Server: Werkzeug/x Python/y`` (no versions for attackers)."""

    def version_string(self) -> str:
        return "lbp-cds"


def _start(overrides: dict[str, Any] | None = None) -> Any:
    """``create_app``, with a start-up failure (a bad setting, a broken card) said in one line, never a traceback."""
    from . import create_app

    try:
        return create_app(overrides)
    except Exception as exc:  # report every start-up failure the same way
        raise click.ClickException(str(exc)) from exc


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port to listen on.")
@click.pass_context
def main(ctx: click.Context, host: str, port: int) -> None:
    """lbp-cds: CDS Hooks service for the Danish low-back-pain guidelines."""
    if ctx.invoked_subcommand is not None:
        return
    from .auth import authenticator
    from .settle import settle

    app = _start()
    click.echo(f"lbp-cds: discovery at http://{host}:{port}/cds-services (development server)", err=True)
    with app.app_context():
        if authenticator().dev_key_path is not None:
            click.echo(
                "lbp-cds: no LBP_CDS_CLIENTS, so calls need a token from the local development key; for each call:\n"
                f"  curl -H \"Authorization: Bearer $({sys.executable} -m service token --aud http://{host}:{port}"
                "/cds-services/lbp-order-select)\" ...",
                err=True,
            )
    settle()
    app.run(host=host, port=port, request_handler=_QuietServerHandler)


@main.command()
@click.argument("request_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--service", "service_id", help="Service id (default: the lbp service for the request's hook).")
@click.option("--lang", type=click.Choice(["da", "en"]), help="Card language (default: LBP_CDS_LANGUAGE).")
@click.option("--profile", type=click.Choice(sorted(PROFILES)),
              help="Shape the response for this EHR profile (default: LBP_CDS_DEFAULT_PROFILE).")
def evaluate(request_file: Path, service_id: str | None, lang: str | None, profile: str | None) -> None:
    """Print the response (cards and rule trace) for a hook request read from a file."""
    from .engine import Options, evaluate_request
    from .profiles import shape
    from .registry import SERVICES
    from .runtime import runtime

    app = _start()
    try:
        body = json.loads(request_file.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise click.ClickException(f"{request_file}: not JSON: {exc}") from exc
    hook = body.get("hook") if isinstance(body, dict) else None
    service_id = service_id or {s.hook: s.id for s in SERVICES.values()}.get(str(hook), "")
    service = SERVICES.get(service_id)
    if service is None:
        raise click.ClickException(f"no service for hook {hook!r}; pass --service")
    with app.app_context():
        state = runtime()
        options = Options(language=lang or str(app.config["LANGUAGE"]), explain=True)
        try:
            request = state.validators.hook_request(service.hook, body)
            result = evaluate_request(request, service, state.knowledge, state.terminology, replace(options))
            response = shape(result.response, profile or str(app.config["DEFAULT_PROFILE"]), service.hook,
                             request["context"])
        except CdsError as exc:
            outcome = operation_outcome(exc.diagnostics, code=exc.code, issue_type=exc.issue_type, details=exc.details)
            click.echo(json.dumps(outcome, ensure_ascii=False, indent=2))
            sys.exit(1)
    click.echo(json.dumps(response, ensure_ascii=False, indent=2, default=str))


@main.command()
@click.option("--aud", required=True,
              help="The exact URL the token is for, e.g. http://127.0.0.1:8080/cds-services/lbp-order-select")
@click.option("--lifetime", default=300, show_default=True, type=click.IntRange(1, 3600), help="Seconds valid.")
def token(aud: str, lifetime: int) -> None:
    """Print a fresh single-use JWT signed with the local development key (development only).

    The server trusts that key only when no LBP_CDS_CLIENTS file is configured. A token is
    for one URL (its aud) and one call (its jti): mint one per call.
    """
    from flask import Flask

    from .auth import mint_dev_token
    from .config import DEFAULTS

    # The same settings and DATA_DIR as create_app, without loading the knowledge.
    bare = Flask("service", instance_relative_config=True)
    bare.config.from_mapping(DEFAULTS)
    bare.config.from_prefixed_env("LBP_CDS")
    if bare.config["CLIENTS"]:
        click.echo("warning: LBP_CDS_CLIENTS is set, so the server does not trust the development key", err=True)
    click.echo(mint_dev_token(Path(bare.config["DATA_DIR"] or bare.instance_path), aud, lifetime))


@main.command()
def catalogue() -> None:
    """Print the rule catalogue (docs/rules.md) generated from cards/."""
    from .catalogue import catalogue_markdown
    from .config import DEFAULTS
    from .knowledge import load_knowledge

    click.echo(catalogue_markdown(load_knowledge(Path(DEFAULTS["CARDS_DIR"]))), nl=False)


@main.command()
def cards() -> None:
    """Print docs/cards.md: every card a GP can see, both languages, and the review's three patients."""
    from .cardbook import cards_markdown, example_cards, review_requests
    from .config import DEFAULTS
    from .runtime import runtime

    app = _start({"DATA_DIR": tempfile.mkdtemp(prefix="lbp-cds-cards-")})
    requests = review_requests(Path(DEFAULTS["CARDS_DIR"]).parent / "docs" / "requests")
    with app.app_context():
        examples = {lang: example_cards(requests, lang) for lang in ("da", "en")}
        click.echo(cards_markdown(runtime().knowledge, examples), nl=False)


@main.command()
def codes() -> None:
    """Print the concept/code table of docs/data-contract.md §5 from fhir_profiles/valuesets/."""
    from .catalogue import concept_table
    from .config import DEFAULTS

    folder = Path(DEFAULTS["PROFILES_DIR"]) / "valuesets"
    valuesets = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]
    click.echo(concept_table(valuesets), nl=False)


@main.command("check-knowledge")
def check_knowledge() -> None:
    """Load cards/ and fhir_profiles/ as at start-up; exit non-zero on any problem."""
    from .runtime import runtime

    app = _start({"DATA_DIR": tempfile.mkdtemp(prefix="lbp-cds-check-")})
    with app.app_context():
        state = runtime()
        click.echo(
            f"ok: {len(state.knowledge.rules)} rules, {len(state.terminology.concept_ids())} value sets"
        )


# -- the example scenarios (examples/scenarios/) ---------------------------------------------------


def _library() -> dict[str, Any]:
    from flask import Flask

    from .config import DEFAULTS
    from .scenarios import ScenarioError, load_library

    bare = Flask("service")
    bare.config.from_mapping(DEFAULTS)
    bare.config.from_prefixed_env("LBP_CDS")
    try:
        library = load_library(Path(str(bare.config["SCENARIOS_DIR"])))
    except ScenarioError as exc:
        raise click.ClickException(str(exc)) from exc
    if not library:
        raise click.ClickException(f"no scenarios in {bare.config['SCENARIOS_DIR']} (LBP_CDS_SCENARIOS_DIR)")
    return library


def _pick(library: dict[str, Any], wanted: tuple[str, ...]) -> list[Any]:
    """Scenarios by id or by unique id prefix (``042`` for ``042-xray-without-indication``)."""
    out = []
    for key in wanted:
        found = [s for sid, s in library.items() if sid == key or sid.startswith(key)]
        if len(found) != 1:
            raise click.ClickException(f"{key!r} names {len(found)} scenarios; see python -m service scenarios")
        out.append(found[0])
    return out


def _expected(call: Any) -> str:
    return ", ".join(f"{e['rule']} ({e['indicator']})" for e in call["expect"]) or "no card"


@main.command()
@click.argument("scenario_id", required=False)
@click.option("--request", "request_no", type=int, help="Print call N (1-based) as a CDS Hooks request.")
@click.option("--run", "run_calls", is_flag=True, help="Run every call through the service; compare with expect.")
@click.option("--fixed-dates", is_flag=True, help="Keep the scenario's own dates (default: moved to today).")
@click.option("--lang", type=click.Choice(["da", "en"]), default="da", show_default=True,
              help="Card language for --run.")
def scenarios(scenario_id: str | None, request_no: int | None, run_calls: bool, fixed_dates: bool, lang: str) -> None:
    """List the example scenarios; show one, print one call's request, or run its calls.

    Dates are moved so that the scenario's "now" is the present moment (examples/scenarios/README.md).
    """
    from datetime import datetime

    from .scenario_dates import CPH

    library = _library()
    if scenario_id is None:
        for sid, s in library.items():
            click.echo(f"{sid}\t{s.title}\t" + "; ".join(f"{c['hook']}: {_expected(c)}" for c in s.calls))
        return
    scenario = _pick(library, (scenario_id,))[0]
    if not fixed_dates:
        scenario = scenario.moved(datetime.now(CPH))
    if request_no is not None:
        if not 1 <= request_no <= len(scenario.calls):
            raise click.ClickException(f"{scenario.id} has calls 1 to {len(scenario.calls)}")
        click.echo(json.dumps(scenario.request(request_no - 1), ensure_ascii=False, indent=2))
        return
    click.echo(f"{scenario.id}: {scenario.title}\n{scenario.story}\nGuideline: {scenario.guideline}\n"
               f"now: {scenario.now.isoformat(timespec='seconds')}")
    failed = 0
    for index, call in enumerate(scenario.calls):
        label = f" — {call['label']}" if call.get("label") else ""
        line = f"  {index + 1}. {call['hook']}{label}: expect {_expected(call)}"
        if run_calls:
            got = _run_call(scenario, index, lang)
            ok = sorted(set(got)) == sorted({(e["rule"], e["indicator"]) for e in call["expect"]})
            failed += not ok
            line += f"\n     got {', '.join(f'{r} ({i})' for r, i in got) or 'no card'}  {'ok' if ok else 'DIFFERENT'}"
        click.echo(line)
    if failed:
        sys.exit(1)


@functools.cache
def _quiet_app() -> Any:
    import logging

    # An in-process app that serves nobody: its start-up warnings about authentication do not apply.
    logging.getLogger("service.auth").setLevel(logging.ERROR)
    return _start({"DATA_DIR": tempfile.mkdtemp(prefix="lbp-cds-scenarios-"), "DEMO": "off", "AUTH": "off"})


def _run_call(scenario: Any, index: int, lang: str) -> list[tuple[str, str]]:
    """(rule, indicator) of each card the service gives for call ``index``, at the scenario's ``now``."""
    from .engine import Options, evaluate_request
    from .registry import SERVICES
    from .runtime import runtime
    from .scenarios import SERVICE_FOR_HOOK

    app = _quiet_app()
    service = SERVICES[SERVICE_FOR_HOOK[scenario.calls[index]["hook"]]]
    with app.app_context():
        state = runtime()
        result = evaluate_request(scenario.request(index), service, state.knowledge, state.terminology,
                                  Options(language=lang), now=scenario.now)
    return [(c["extension"]["dk.lbp-cds.rule"]["ruleId"], c["indicator"]) for c in result.response.get("cards", [])]


@main.command("load-fhir")
@click.argument("server_url")
@click.argument("scenario_ids", nargs=-1)
@click.option("--fixed-dates", is_flag=True, help="Keep the scenario's own dates (default: moved to today).")
def load_fhir_command(server_url: str, scenario_ids: tuple[str, ...], fixed_dates: bool) -> None:
    """Load example patients into the FHIR server at SERVER_URL (one transaction Bundle each; all by default)."""
    from .load_fhir import LoadError, load

    library = _library()
    chosen = _pick(library, scenario_ids) if scenario_ids else list(library.values())
    try:
        for done in load(server_url, chosen, move=not fixed_dates):
            click.echo(f"{done.scenario}\t{done.patient}\t{done.resources} resources\t{done.status}")
    except LoadError as exc:
        raise click.ClickException(str(exc)) from exc


@main.command("demo-client")
def demo_client() -> None:
    """Print the clients-file entry of the demo page's client (for LBP_CDS_DEMO=on with LBP_CDS_CLIENTS)."""
    from .demo import clients_entry

    click.echo(json.dumps(clients_entry(Path(str(_settings()["DATA_DIR"]))), indent=2))


# -- the feedback loop: database and report ---------------------------------------------------


def _settings() -> dict[str, object]:
    """The settings as create_app reads them, without loading the knowledge."""
    from flask import Flask

    from .config import DEFAULTS

    bare = Flask("service", instance_relative_config=True)
    bare.config.from_mapping(DEFAULTS)
    bare.config.from_prefixed_env("LBP_CDS")
    bare.config["DATA_DIR"] = bare.config["DATA_DIR"] or bare.instance_path
    return dict(bare.config)


def _open_storage(*, migrate_now: bool = True) -> object:
    from .storage import StorageError, open_storage

    settings = _settings()
    try:
        return open_storage(str(settings["DATABASE_URL"] or ""), Path(str(settings["DATA_DIR"])),
                            migrate_now=migrate_now)
    except StorageError as exc:
        raise click.ClickException(str(exc)) from exc


@main.group()
def db() -> None:
    """The database: schema version, upgrade, purge (LBP_CDS_DATABASE_URL, else SQLite in DATA_DIR)."""


@db.command()
def upgrade() -> None:
    """Bring the database to this release's schema (also done at every start-up)."""
    from .storage import SqlStorage, migrate
    from .storage.database import safe

    storage = _open_storage()
    assert isinstance(storage, SqlStorage)
    click.echo(f"ok: {safe(storage.url)} at schema version {migrate.current(storage.engine)}")


@db.command()
def current() -> None:
    """Print the database's schema version and this release's (without changing anything)."""
    from .storage import SqlStorage, migrate

    storage = _open_storage(migrate_now=False)
    assert isinstance(storage, SqlStorage)
    click.echo(f"database: {migrate.current(storage.engine) or 'none'}; this release: {migrate.head()}")


@db.command()
@click.option("--days", type=click.IntRange(1), help="Keep this many days (default: LBP_CDS_RETENTION_DAYS).")
def purge(days: int | None) -> None:
    """Delete issued cards and feedback older than the retention period."""
    from datetime import UTC, datetime, timedelta

    from .storage import SqlStorage

    keep = days if days is not None else int(str(_settings()["RETENTION_DAYS"]))
    if keep <= 0:
        click.echo("LBP_CDS_RETENTION_DAYS is 0: everything is kept; nothing purged", err=True)
        return
    before = (datetime.now(UTC) - timedelta(days=keep)).isoformat(timespec="seconds")
    storage = _open_storage()
    assert isinstance(storage, SqlStorage)
    deleted = storage.purge(before)
    click.echo(f"purged before {before}: {deleted['issued_cards']} issued cards, {deleted['feedback']} feedback")


@main.command()
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="First day of cards issued (YYYY-MM-DD).")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Last day of cards issued, included.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
def report(since: datetime | None, until: datetime | None, fmt: str) -> None:
    """What the advice did: per rule version, cards issued, accepted, overridden and why."""
    from .report import as_csv, as_table, build_report
    from .storage import SqlStorage, StorageError

    storage = _open_storage()
    assert isinstance(storage, SqlStorage)
    try:
        data = build_report(storage, since.date() if since else None, until.date() if until else None)
    except StorageError as exc:
        raise click.ClickException(f"cannot read the database: {exc}") from exc
    if fmt == "json":
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    elif fmt == "csv":
        click.echo(as_csv(data), nl=False)
    else:
        click.echo(as_table(data), nl=False)
@main.command("dry-run")
@click.argument("export", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--memory", type=click.Choice(["config", "on", "off"]), default="config", show_default=True,
              help="Card memory: as LBP_CDS_CARD_MEMORY says, or on/off.")
def dry_run(export: Path, memory: str) -> None:
    """Replay each back-pain contact of a Bulk Data export (EXPORT/<Type>.ndjson) and print the burden table."""
    from .dryrun import burden_table, read_export, replay
    from .memory import settings_from_config
    from .runtime import runtime

    app = _start({"DATA_DIR": tempfile.mkdtemp(prefix="lbp-cds-dry-run-")})
    with app.app_context():
        state = runtime()
        settings = state.memory
        if memory == "on" and settings is None:
            settings = settings_from_config(app.config, b"dry-run", state.knowledge.reminders())
        if memory == "off":
            settings = None
        contacts, shown = replay(read_export(export), state.knowledge, state.terminology, settings)
    click.echo(f"# Dry run of {export.name} (card memory {'on' if settings else 'off'})\n")
    click.echo(burden_table(contacts, shown), nl=False)


@main.command("config-reference")
def config_reference() -> None:
    """Print docs/configuration.md: every LBP_CDS_ setting, its default and meaning (from service/config.py)."""
    from .config_reference import markdown

    click.echo(markdown(), nl=False)


@main.command()
def openapi() -> None:
    """Print docs/openapi.json: the OpenAPI 3.1 document served at /openapi.json."""
    from .openapi import text

    click.echo(text(), nl=False)
