"""Command line: ``python -m service`` serves; subcommands work without a server.

- ``python -m service --host 127.0.0.1 --port 8080``: the development server.
- ``python -m service evaluate REQUEST.json``: cards and rule trace for a hook request.
- ``python -m service check-knowledge``: validate ``cards/`` and ``fhir_profiles/``.
- ``python -m service token --aud URL``: a fresh JWT from the local development client.
"""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import click
from werkzeug.serving import WSGIRequestHandler

from .errors import CdsError, operation_outcome
from .profiles import PROFILES


class _QuietServerHandler(WSGIRequestHandler):
    """The development server without ``Server: Werkzeug/x Python/y`` (no versions for attackers)."""

    def version_string(self) -> str:
        return "lbp-cds"


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port to listen on.")
@click.pass_context
def main(ctx: click.Context, host: str, port: int) -> None:
    """lbp-cds: CDS Hooks service for the Danish low-back-pain guidelines."""
    if ctx.invoked_subcommand is not None:
        return
    from . import create_app
    from .auth import authenticator
    from .settle import settle

    app = create_app()
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
    from . import create_app
    from .engine import Options, evaluate_request
    from .profiles import shape
    from .registry import SERVICES
    from .runtime import runtime

    app = create_app()
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
    from . import create_app
    from .runtime import runtime

    try:
        app = create_app({"DATA_DIR": tempfile.mkdtemp(prefix="lbp-cds-check-")})
    except Exception as exc:  # report every start-up failure the same way
        raise click.ClickException(str(exc)) from exc
    with app.app_context():
        state = runtime()
        click.echo(
            f"ok: {len(state.knowledge.rules)} rules, {len(state.terminology.concept_ids())} value sets"
        )
