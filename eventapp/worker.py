"""The Celery entry point: `celery -A eventapp.worker worker` (and `beat`).

Celery looks for an attribute named `app` first, then `celery`: the Flask app is therefore
not called `app` here.
"""

from eventapp import create_app

flask_app = create_app(migrations=False)  # workers never migrate
celery = flask_app.extensions["celery"]
