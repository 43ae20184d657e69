"""The Celery entry point: `celery -A eventapp.worker worker` (and `beat`)."""

from eventapp import create_app

app = create_app()
celery = app.extensions["celery"]
