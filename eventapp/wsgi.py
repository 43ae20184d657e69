"""The WSGI entry point: `gunicorn eventapp.wsgi:app`."""

from eventapp import create_app

app = create_app()
