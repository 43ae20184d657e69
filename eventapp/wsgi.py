"""The WSGI entry point: `gunicorn eventapp.wsgi:app`."""

from eventapp import create_app

app = create_app(migrations=False)  # a web worker never migrates: `eventapp db upgrade` does
