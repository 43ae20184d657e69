"""The `eventapp` command: Flask's CLI (run, db, shell, routes) plus eventapp's own commands."""

from __future__ import annotations

import getpass
import sys

import click
from flask import Flask
from flask.cli import FlaskGroup

from eventapp import create_app
from eventapp.extensions import db


def main() -> None:
    FlaskGroup(create_app=lambda: create_app(), help=__doc__)(prog_name="eventapp")


def _ask_password(password: str | None) -> str:
    if password:
        return password
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise click.ClickException("The two passwords differ.")
    return first


def register_commands(app: Flask) -> None:
    from eventapp.auth import services as accounts
    from eventapp.core.errors import DomainError

    @app.cli.command("create-admin")
    @click.argument("email")
    @click.option("--name", default="", help="Display name (default: the e-mail).")
    @click.option("--password", envvar="EVENTAPP_ADMIN_PASSWORD",
                  help="Password; asked for (or read from stdin) when omitted.")
    def create_admin(email: str, name: str, password: str | None) -> None:
        """Create an administrator account, who can create events and see all of them."""
        try:
            user = accounts.create_user(email, name, _ask_password(password), is_admin=True)
        except DomainError as error:
            raise click.ClickException(str(error.message)) from None
        db.session.commit()
        click.echo(f"Administrator {user.email} created.")

    @app.cli.command("create-token")
    @click.argument("email")
    @click.option("--name", default="command line", help="What the token is for.")
    def create_token(email: str, name: str) -> None:
        """Create an API token for an account and print it (it is shown only once)."""
        import sqlalchemy as sa
        from eventapp.auth.models import User

        user = db.session.scalar(sa.select(User).where(User.email == email.strip().lower()))
        if user is None:
            raise click.ClickException(f"No account {email}.")
        plain, _token = accounts.issue_api_token(user, name)
        db.session.commit()
        click.echo(plain)

    @app.cli.command("seed-demo")
    @click.option("--contacts", default=2000, show_default=True, help="How many contacts.")
    @click.option("--if-empty", is_flag=True, help="Do nothing when the database has events.")
    @click.option("--seed", default=2026, show_default=True, help="Random seed (same seed, "
                  "same data).")
    def seed_demo_command(contacts: int, if_empty: bool, seed: int) -> None:
        """Fill the database with a realistic demo event and print the demo logins."""
        from eventapp.demo import DEMO_PASSWORD, demo_logins, database_is_empty, seed_demo

        if not database_is_empty():
            if not if_empty:
                raise click.ClickException(
                    "The database already has events. Seed a fresh database (empty "
                    "EVENTAPP_INSTANCE_PATH or DATABASE_URL), or pass --if-empty to keep it.")
            click.echo("The database already has events; demo data left as it is.")
        else:
            click.echo(seed_demo(contacts=contacts, seed=seed))
        logins = demo_logins()
        if logins:
            click.echo(f"Demo logins (password for all: {DEMO_PASSWORD}):")
            for email, role in logins:
                click.echo(f"  {role:<10} {email}")
        from eventapp.checkin.demo import tickets_to_try

        tickets = tickets_to_try()
        if tickets:
            click.echo("Tickets to type into the gate page (guests not arrived yet):")
            for name, code in tickets:
                click.echo(f"  {name}: {code}")

    @app.cli.group("outbox")
    def outbox_group() -> None:
        """The outbox of e-mails and texts."""

    @outbox_group.command("send")
    def outbox_send() -> None:
        """Send every queued message that is due, once (cron this when running without a
        Celery broker and beat)."""
        from eventapp.core.outbox import send_due_messages

        report = send_due_messages()
        click.echo(f"Sent {report.sent}, to retry later {report.retrying}, failed "
                   f"{report.failed}, skipped {report.skipped}.")

    @app.cli.command("send-test-email")
    @click.argument("to")
    def send_test_email(to: str) -> None:
        """Send one e-mail through the configured SMTP server, to check the settings."""
        from eventapp.core.mail import build_email, send_email

        try:
            send_email(build_email(to, "eventapp test e-mail",
                                   "The SMTP settings of eventapp work."))
        except (OSError, Exception) as error:  # smtplib errors are OSError or SMTPException
            raise click.ClickException(f"Sending failed: {error}") from None
        click.echo(f"Sent to {to} through {app.config['SMTP_HOST']}:{app.config['SMTP_PORT']}.")
