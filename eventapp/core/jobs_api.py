"""/api/v1/jobs/<id>: what a progress bar polls."""

from __future__ import annotations

import marshmallow as ma
from flask_login import current_user
from werkzeug.exceptions import NotFound

from eventapp.core.api import api_blueprint
from eventapp.core.jobs import Job
from eventapp.extensions import csrf, db

blp = api_blueprint("jobs_api", __name__, "/jobs", "Progress of long-running jobs", csrf)


class JobSchema(ma.Schema):
    id = ma.fields.String()
    kind = ma.fields.String()
    state = ma.fields.String(metadata={"description": "queued, running, succeeded or failed"})
    done = ma.fields.Integer()
    total = ma.fields.Integer(allow_none=True)
    percent = ma.fields.Integer(allow_none=True)
    message = ma.fields.String(allow_none=True)
    result = ma.fields.Dict(allow_none=True)
    error = ma.fields.String(allow_none=True)
    finished = ma.fields.Boolean()


@blp.get("/<job_id>")
@blp.response(200, JobSchema)
def get_job(job_id: str) -> Job:
    """A job's state and progress. Only the person who started it (or an admin) sees it."""
    job = db.session.get(Job, job_id[:36])
    if job is None or (job.user_id != current_user.id and not current_user.is_admin):
        raise NotFound()
    return job
