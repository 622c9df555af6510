"""The command line: `python -m app` (serve, db upgrade, import, export, keys)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer

from app.core.config import get_settings
from app.core.db import Database
from app.webhooks.queue import DELIVER_SIZE

cli = typer.Typer(
    help="Health-content API.", no_args_is_help=False, add_completion=False, pretty_exceptions_enable=False
)
db_cli = typer.Typer(help="Database schema.")
keys_cli = typer.Typer(help="API keys for partners and editors.")
cli.add_typer(db_cli, name="db")
cli.add_typer(keys_cli, name="keys")


def _db() -> Database:
    return Database.from_settings(get_settings())


@cli.callback(invoke_without_command=True)
def default(ctx: typer.Context) -> None:
    """With no command: serve."""
    if ctx.invoked_subcommand in (None, "serve"):
        from app.ops.serving import pool_metrics

        pool_metrics()  # first: before anything imports the metrics
    from app.main import configure_logging, install_write_hooks

    configure_logging()
    install_write_hooks()
    if ctx.invoked_subcommand is None:
        serve()


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Serve the API; on an empty database, migrate and import data/ first. Unless WEBHOOK_WORKER=false,
    a webhook delivery worker runs beside the HTTP workers in a process of its own."""
    import os

    from app.api.protocol import server_config
    from app.importer.run import bootstrap
    from app.ops import serving
    from app.ops.companion import delivery_worker

    settings = get_settings()
    db = _db()
    bootstrap(db, settings.data_dir)
    db.dispose()
    companion = None
    if settings.webhook_worker:
        companion = delivery_worker(settings.webhook_timeout_seconds)
        companion.start()
        # The HTTP workers read their settings from the environment: they leave delivery to the companion.
        os.environ["WEBHOOK_WORKER"] = "false"
        get_settings.cache_clear()  # a single worker runs in this process, where the settings were read
    try:
        serving.run(server_config("app.main:app", settings, host=host, port=port, workers=workers))
    finally:
        if companion is not None:
            companion.stop()


@cli.command()
def deliver(
    once: Annotated[bool, typer.Option(help="Send what is due now, then stop.")] = False,
    subscriptions: Annotated[
        int, typer.Option(min=1, max=10000, help="Subscriptions held (and sent to) at once.")
    ] = DELIVER_SIZE.subscriptions,
    concurrency: Annotated[
        int, typer.Option(min=1, max=1000, help="Sends in flight at once, across subscriptions.")
    ] = DELIVER_SIZE.concurrency,
    with_parent: Annotated[
        bool, typer.Option(hidden=True, help="Stop when standard input ends (run by `serve`).")
    ] = False,
) -> None:
    """Run a webhook delivery worker (several may run at once; `serve` runs one beside its HTTP workers
    unless WEBHOOK_WORKER=false)."""
    import asyncio
    import signal

    from app.webhooks.delivery import Worker, new_client
    from app.webhooks.queue import Size

    settings = get_settings()
    db = _db()
    worker = Worker(db, settings, size=Size(subscriptions, concurrency))

    async def main() -> None:
        if once:
            async with new_client() as client:
                while await worker.run_once(client):
                    pass
            return
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        if with_parent:
            from app.ops.companion import on_parent_exit

            on_parent_exit(lambda: loop.call_soon_threadsafe(stop.set))
        await worker.run(stop)

    try:
        asyncio.run(main())
    finally:
        db.dispose()


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    from app.core.migrate import upgrade

    upgrade(_db())
    typer.echo("schema is current")


@db_cli.command("reindex")
def db_reindex() -> None:
    """Rebuild the search index from the content tables (writes keep it current; this is for doubt)."""
    from app.search.index import rebuild

    with _db().write() as conn:
        count = rebuild(conn)
    typer.echo(f"indexed {count} records")


@db_cli.command("rebuild-documents")
def db_rebuild_documents() -> None:
    """Render every published record's public read shape again into the read model (writes keep it
    current; this is for doubt, or after a change to the read shape)."""
    from app.content.readmodel import rebuild

    with _db().write() as conn:
        counts = rebuild(conn)
    typer.echo(f"rendered {sum(counts.values())} documents: " + ", ".join(f"{k}={v}" for k, v in counts.items()))


@db_cli.command("backup")
def db_backup(path: Annotated[Path, typer.Argument(help="A new file to write the copy to.")]) -> None:
    """Copy the database consistently while the service runs (SQLite: VACUUM INTO; PostgreSQL: pg_dump)."""
    from app.ops.backup import BackupError, backup

    try:
        info = backup(_db(), path)
    except BackupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except OSError as exc:  # the copy was made but could not be put in place: nothing is left behind
        typer.echo(f"error: the backup could not be written to {path}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"backed up to {info.path} ({info.bytes} bytes, change log at {info.last_change})")


@db_cli.command("restore")
def db_restore(path: Annotated[Path, typer.Argument(help="A file made by `db backup`.")]) -> None:
    """Replace the database's content with a backup's (checked first); restart the service afterwards."""
    from app.ops.backup import BackupError, restore

    try:
        info = restore(_db(), path)
    except BackupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"restored from {info.path} (change log at {info.last_change})")


@cli.command("import")
def import_(
    path: Annotated[Path, typer.Argument(help="A data directory, such as data/.")],
    prune: Annotated[
        bool, typer.Option("--prune", help="Also delete imported records the files no longer hold.")
    ] = False,
) -> None:
    """Import a data directory: validated, all or nothing, idempotent. Records the files no longer hold
    are kept (and counted as `stale`) unless `--prune` is given."""
    from sqlalchemy.exc import DBAPIError

    from app.core.errors import ApiError
    from app.core.migrate import upgrade
    from app.importer.loader import ImportInvalid, load_dataset
    from app.importer.run import apply_dataset

    db = _db()
    try:
        dataset = load_dataset(path)  # checked whole before the database is touched
        upgrade(db)
        outcome = apply_dataset(db, dataset, prune=prune)
    except ImportInvalid as exc:
        for problem in exc.problems:
            typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(1) from None
    except ApiError as exc:  # the write path refused (a record still in use, an unknown reference...)
        typer.echo(f"error: nothing was imported: {exc.detail}", err=True)
        raise typer.Exit(1) from None
    except DBAPIError as exc:  # the database refused: its reason, never the statement
        reason = str(exc.orig).splitlines()[0] if exc.orig is not None else type(exc).__name__
        typer.echo(f"error: nothing was imported: the database refused the change ({reason})", err=True)
        raise typer.Exit(1) from None
    ops = ("created", "updated", "unchanged", "deleted", "stale")
    typer.echo(" ".join(f"{op}={outcome.get(op, 0)}" for op in ops))
    if outcome.get("stale"):
        typer.echo(f"{outcome['stale']} imported records are no longer in the files: kept (--prune deletes them)")


@cli.command()
def export(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write; default stdout.")] = None,
) -> None:
    """Write every published record as NDJSON, one document per line, with the change-log cursor. With
    `-o`, the file is written whole or not at all (a temporary file beside it, renamed when complete)."""
    from app.ops.files import written_whole
    from app.partners.export import write_ndjson

    db = _db()
    if output is None:
        write_ndjson(db, sys.stdout.buffer)
        return
    try:
        with written_whole(output) as partial, partial.open("wb") as stream:
            write_ndjson(db, stream)
    except OSError as exc:  # a full disk, a missing directory: the old file, if any, is left as it was
        typer.echo(f"error: the export could not be written to {output}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None


@cli.command()
def openapi(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write; default stdout.")] = None,
) -> None:
    """Print the OpenAPI document (docs/openapi.json is this output; a test keeps them equal)."""
    from app.main import openapi_json

    text = openapi_json()
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


@cli.command()
def generate(
    claims: Annotated[int, typer.Option(min=1, help="How many synthetic claims (other records in proportion).")],
    seed: Annotated[int, typer.Option(help="The same seed gives the same content.")] = 1,
) -> None:
    """Fill the database with synthetic content through the write path (for benchmarks)."""
    import time

    from app.core.migrate import upgrade
    from app.synthetic import generate as generate_content

    db = _db()
    upgrade(db)
    started = time.perf_counter()
    counts = generate_content(db, claims, seed)
    elapsed = time.perf_counter() - started
    typer.echo(" ".join(f"{resource}={count}" for resource, count in counts.items()) + f" seconds={elapsed:.1f}")


@keys_cli.command("create")
def keys_create(
    scope: Annotated[str, typer.Option(help="partner, editor or ops (ops: metrics only)")],
    name: Annotated[str, typer.Option(help="Who the key is for.")],
) -> None:
    """Make a key; it is shown once, as the last word of the output."""
    from app.auth.keys import Scope, create_key

    db = _db()
    try:
        chosen = Scope(scope)
    except ValueError:
        typer.echo("error: --scope must be partner, editor or ops", err=True)
        raise typer.Exit(2) from None
    with db.write() as conn:
        key = create_key(conn, scope=chosen, name=name)
    typer.echo(f"Created a {chosen} key for {name}. Store it now; it is not shown again: {key}")


@keys_cli.command("list")
def keys_list() -> None:
    """List keys (prefix, scope, name, dates); never the keys themselves."""
    from app.auth.keys import list_keys

    with _db().read() as conn:
        for row in list_keys(conn):
            typer.echo(orjson.dumps(row).decode())


@keys_cli.command("revoke")
def keys_revoke(prefix: Annotated[str, typer.Argument(help="The key's prefix, as `keys list` shows it.")]) -> None:
    """Revoke a key: from now on it is a 401."""
    from app.auth.keys import revoke_key

    with _db().write() as conn:
        if not revoke_key(conn, prefix):
            typer.echo(f"error: no active key with prefix {prefix}", err=True)
            raise typer.Exit(1)
    typer.echo(f"revoked {prefix}")


def main() -> None:
    cli()
