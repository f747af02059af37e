"""``flask scoreboard ...``: tokens for development, seeding, cache rebuild, verification,
the tables' upkeep and moderation."""

import getpass
import json
import os
import sys
from datetime import UTC, datetime

import click
from flask.cli import AppGroup, run_command
from flask_jwt_extended import decode_token

from .. import identity
from ..adapters.blocklist import BLOCKLIST_REFRESH_SECONDS
from ..boards import leaderboard, ranks
from ..core.errors import ApiError
from ..play import actions, archive, moderation, proof, restore, upkeep
from . import simulate

group = AppGroup("scoreboard", help="Operate the scoreboard.")


def run_hosts() -> list[str]:
    """The host that ``flask run`` (its ``--host`` or FLASK_RUN_HOST) loads the app to
    serve on, for config.check; none under any other command or server."""
    context = click.get_current_context(silent=True)
    return [context.params["host"]] if context and context.command is run_command else []


@group.command("token")
@click.argument("user_id")
@click.option("--name", help="Display name claim.")
@click.option("--region", help="Region claim (ISO 3166-1 alpha-2).")
@click.option("--role", help="Role claim.")
@click.option("--ttl", default=3600, show_default=True, help="Lifetime in seconds.")
def token(user_id, name, region, role, ttl):
    """Print one signed JWT for USER_ID (development and tests only)."""
    click.echo(identity.issue_token(user_id, name=name, region=region, role=role, ttl=ttl))


@group.command("seed")
def seed():
    """Add the default action types that are missing."""
    added = actions.seed_catalog()
    click.echo(f"action catalog: {added} added")


@group.command("rebuild-cache")
def rebuild_cache():
    """Rebuild the cached board, and mark every rank set for rebuilding, from the database."""
    snapshot = leaderboard.refresh_cache()
    ranks.forget_all()
    click.echo(f"board cache rebuilt at version {snapshot.version}")


@group.command("revoke")
@click.argument("token")
def revoke(token):
    """Revoke TOKEN by its jti until it expires."""
    claims = decode_token(token, allow_expired=True)
    if claims.get("jti") is None:
        raise click.ClickException(
            "TOKEN has no jti, so no revocation can name it: ban its player, or rotate the "
            "signing key (README, \"Tokens and revocation\")")
    expires = datetime.fromtimestamp(claims["exp"], UTC).replace(tzinfo=None)
    if identity.revoke(claims["jti"], expires):
        click.echo(f"revoked {claims['jti']}")
    else:
        click.echo(f"revoked {claims['jti']} in the database; Redis is unreachable, so servers "
                   f"refuse it within {BLOCKLIST_REFRESH_SECONDS} s of Redis answering again")


@group.command("verify")
@click.option("--since", is_flag=True,
              help="Only the players with events after the newest checkpoint (fast).")
def verify(since):
    """Recompute every score, all-time and per window, from the newest checkpoint of the
    archived audit log plus the events after it, and check the Redis rank sets against the
    database; exit 1 on any difference. Also reports how many refused attempts the log
    counts after the checkpoint."""
    report = proof.verify(since=since)
    for line in report.wrong:
        click.echo(f"MISMATCH {line}")
    after = f" since the checkpoint of {report.boundary:%Y-%m-%d}" if report.boundary else ""
    click.echo(f"verified {report.players} players and {report.windows} window scores"
               f"{after}: {len(report.wrong)} mismatches")
    click.echo(f"refused attempts: {report.refused_attempts} (audit rows: "
               f"{report.refused_rows}){after}")
    if report.wrong:
        sys.exit(1)


@group.command("archive")
@click.option("--before", required=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="The UTC day (YYYY-MM-DD) the archived events come before.")
@click.option("--to", "path", required=True, type=click.Path(dir_okay=False),
              help="A new file (gzip JSON lines).")
def archive_audit(before, path):
    """Write the audit events before --before (whole partitions on PostgreSQL) to a new
    file, sum them up into a checkpoint and remove them from the database."""
    try:
        click.echo(archive.describe(archive.archive(before.date(), path)))
    except archive.Refused as refused:
        raise click.ClickException(str(refused)) from None


@group.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def restore_audit(path):
    """Load an archive's events back into the audit log, for an investigation; verify
    still holds (the checkpoint already counts them)."""
    try:
        done = restore.restore(path)
    except archive.Refused as refused:
        raise click.ClickException(str(refused)) from None
    made = f"; partitions made again: {', '.join(done.partitions)}" if done.partitions else ""
    click.echo(f"restored {done.added} of {done.rows} events from {path} (the others were "
               f"in the table){made}")


@group.command("maintain")
def maintain():
    """Add the coming day partitions and drop ticket partitions past their use (PostgreSQL;
    on SQLite, delete such tickets). Safe to run anywhere at any time: one instance at a
    time does it, and a second run finds nothing to do."""
    for line in upkeep.maintain():
        click.echo(line)


def _cli_actor() -> moderation.Actor:
    """The audit log's name for whoever runs the command: ``cli:<os user>``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name in the environment, nor a passwd entry
        user = f"uid-{os.getuid()}"
    return moderation.Actor(f"cli:{user}"[:80])


REASON_HELP = f"Why (1 to {moderation.REASON.max_length} characters); audited."


def _moderating(act):
    """A command running ``act(actor, user_id, reason)`` and echoing its reply as JSON."""
    @click.argument("user_id")
    @click.option("--reason", required=True, help=REASON_HELP)
    def command(user_id, reason):
        _echo_moderation(act, user_id, reason)

    command.__doc__ = f"{act.__doc__.splitlines()[0]} Audited as cli:<os user>."
    return group.command(act.__name__)(command)


def _echo_moderation(act, *args):
    try:
        reply = act(_cli_actor(), *args)
    except ApiError as refused:
        raise click.ClickException(refused.description) from None
    click.echo(json.dumps(reply))


for _act in (moderation.hide, moderation.unhide, moderation.ban, moderation.unban):
    _moderating(_act)


# Unknown options are taken as arguments, so that a negative DELTA needs no "--".
@group.command("adjust", context_settings={"ignore_unknown_options": True})
@click.argument("user_id")
@click.argument("delta", type=int)
@click.option("--reason", required=True, help=REASON_HELP)
def adjust(user_id, delta, reason):
    """Add DELTA points (negative to take some back) to USER_ID's score and current windows.
    Audited as cli:<os user>."""
    _echo_moderation(moderation.adjust, user_id, delta, reason)


@group.command("audit")
@click.argument("user_id")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 100),
              help="How many events, newest first.")
def audit(user_id, limit):
    """Print USER_ID's newest audit events, one JSON object a line."""
    for event in moderation.audit_page(user_id=user_id, limit=limit)["events"]:
        click.echo(json.dumps(event))


@group.command("simulate")
@click.option("--url", default="http://127.0.0.1:8000", show_default=True,
              help="The running service.")
@click.option("--players", default=12, show_default=True)
@click.option("--rate", default=2.0, show_default=True, help="Updates a second.")
@click.option("--duration", default=0.0, help="Seconds to run; 0 runs until interrupted.")
def simulate_traffic(url, players, rate, duration):
    """Play demo users through the real HTTP API so the board moves."""
    ttl = int(duration) + 60 if duration else 7 * 24 * 3600
    tokens = {user_id: identity.issue_token(user_id, name=name, ttl=ttl)
              for user_id, name in simulate.demo_players(players)}
    accepted = simulate.run(url.rstrip("/"), tokens, rate, duration, echo=click.echo)
    click.echo(f"{accepted} updates accepted")


def init_app(app) -> None:
    app.cli.add_command(group)
