"""Long jobs: state, progress and errors, with inline tasks (the default without a broker)."""

from __future__ import annotations

from eventapp.core.jobs import Job, JobState
from eventapp.core.queue import start_job
from eventapp.extensions import db
from tests.support import tasks


def test_an_inline_job_runs_at_once_and_reports_its_result(app, make):
    user = make.user()
    with app.app_context():
        job = start_job(tasks.count_to, "count", 3, user_id=user.id)
        assert job.state == JobState.SUCCEEDED
        assert (job.done, job.total, job.percent) == (3, 3, 100)
        assert job.result == {"counted": 3}
        assert job.attempts == 1 and job.finished_at is not None


def test_a_refused_job_shows_the_reason_to_the_person(app, make):
    user = make.user()
    with app.app_context():
        job = start_job(tasks.refuse, "import", user_id=user.id)
        assert job.state == JobState.FAILED
        assert job.error == "The file has no header row: add one and upload it again."


def test_an_unexpected_failure_is_logged_not_shown(app, make, caplog):
    user = make.user()
    with app.app_context():
        job = start_job(tasks.crash, "import", user_id=user.id)
        assert job.state == JobState.FAILED
        assert "secret internal detail" not in job.error
        assert "RuntimeError" in job.error and "server log" in job.error
    assert "secret internal detail" in caplog.text


def test_the_progress_api_shows_a_job_to_its_owner_only(app, make, client):
    owner, other = make.user(), make.user()
    with app.app_context():
        job_id = start_job(tasks.count_to, "count", 2, user_id=owner.id).id
    client.login(other.email, make.PASSWORD)
    assert client.get(f"/api/v1/jobs/{job_id}").status_code == 404
    client.post_form("/logout")
    client.login(owner.email, make.PASSWORD)
    body = client.get(f"/api/v1/jobs/{job_id}").json
    assert body["state"] == "succeeded" and body["percent"] == 100 and body["finished"] is True
    assert body["result"] == {"counted": 2}


def test_job_rows_survive_in_the_database(app, make):
    user = make.user()
    with app.app_context():
        job_id = start_job(tasks.count_to, "count", 1, user_id=user.id).id
    with app.app_context():
        assert db.session.get(Job, job_id).state == JobState.SUCCEEDED


def test_a_job_handed_out_again_after_it_finished_is_not_run_again(app, make):
    """Redis redelivers a task whose worker died after finishing but before acknowledging."""
    user = make.user()
    with app.app_context():
        job = start_job(tasks.count_to, "count", 2, user_id=user.id)
        tasks.count_to.apply(args=(job.id, 5), throw=True)  # the same job, delivered again
        db.session.expire_all()
        again = db.session.get(Job, job.id)
        assert (again.attempts, again.result, again.total) == (1, {"counted": 2}, 2)
