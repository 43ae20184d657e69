"""The Flask extensions, created unbound here and bound to the app in `create_app()`."""

from __future__ import annotations

from flask_babel import Babel
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from eventapp.core.api import Api
from eventapp.core.models import Base

# Objects stay readable after commit: no reload query on hot paths (a request's session is
# short-lived, so nothing goes stale for long).
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
api = Api()
