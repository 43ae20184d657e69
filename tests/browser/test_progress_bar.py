"""The progress bar of a long job follows the job until it is finished, in a real browser."""

from __future__ import annotations

import pytest
from flask import Flask, render_template_string
from flask_login import login_required
from playwright.sync_api import expect

from eventapp.core.jobs import Job, JobState
from eventapp.extensions import db
from tests.browser.pages import log_in
from tests.factories import Factory

pytestmark = [pytest.mark.browser, pytest.mark.single_db]

# A page showing one job's bar, as an import or export page will.
PAGE = """{% extends "layouts/office.html" %}
{% from "macros/ui.html" import progress_bar with context %}
{% block content %}{{ progress_bar(job) }}{% endblock %}"""


@pytest.fixture
def job_page(app: Flask, make: Factory) -> tuple[str, str, str]:
    user = make.user()
    with app.app_context():
        job = Job(kind="import", user_id=user.id, state=JobState.RUNNING, done=1, total=4,
                  message="1 of 4 sheets")
        db.session.add(job)
        db.session.commit()
        job_id = job.id

    @app.get("/_job/<job_id>")
    @login_required
    def show_job(job_id: str) -> str:
        return render_template_string(PAGE, job=db.session.get(Job, job_id))

    return user.email, Factory.PASSWORD, job_id


def test_the_bar_polls_the_job_until_it_is_done(app, browse, job_page):
    email, password, job_id = job_page
    page = browse.open("desktop", "en-US")
    log_in(page, email, password)
    page.goto(f"/_job/{job_id}")
    bar = page.locator(".progress progress")
    expect(bar).to_have_attribute("value", "25")
    expect(page.locator(".progress__text")).to_have_text("1 of 4 sheets")

    with app.app_context():
        job = db.session.get(Job, job_id)
        job.done, job.message = 3, "3 of 4 sheets"
        db.session.commit()
    expect(page.locator(".progress__text")).to_have_text("3 of 4 sheets", timeout=5000)
    assert page.evaluate("document.querySelector('.progress progress').value") == 75

    with app.app_context():
        job = db.session.get(Job, job_id)
        job.state, job.done, job.message = JobState.SUCCEEDED, 4, "Imported 4 sheets"
        db.session.commit()
    box = page.locator(".progress")
    expect(box).to_have_attribute("data-state", "succeeded", timeout=5000)
    expect(page.locator(".progress__text")).to_have_text("Imported 4 sheets")
    assert page.evaluate("document.querySelector('.progress progress').value") == 100


def test_a_failed_job_shows_its_error(app, browse, job_page):
    email, password, job_id = job_page
    with app.app_context():
        job = db.session.get(Job, job_id)
        job.state, job.error = JobState.RUNNING, None
        db.session.commit()
    page = browse.open("phone", "en-US")
    log_in(page, email, password)
    page.goto(f"/_job/{job_id}")
    with app.app_context():
        job = db.session.get(Job, job_id)
        job.state, job.error = JobState.FAILED, "Row 7 has no mobile number or e-mail."
        db.session.commit()
    expect(page.locator(".progress")).to_have_attribute("data-state", "failed", timeout=5000)
    expect(page.locator(".progress__text")).to_have_text("Row 7 has no mobile number or e-mail.")
