"""A marketer sets an event up in a real browser, at a desk and on a tablet: edits the details,
adds a one-choice question that the preview shows at once, and publishes. No script or CSP
error, nothing sticking out of the screen."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from flask import Flask
from PIL import Image
from playwright.sync_api import Page, expect

from eventapp.events.models import EventStatus
from tests.browser.conftest import Browsing
from tests.browser.pages import expect_tidy, expect_touch_targets, log_in
from tests.factories import Factory

pytestmark = [pytest.mark.browser, pytest.mark.single_db]

OPTIONS = ["工业 AI · Industrial AI", "数字孪生 · Digital twins", "预测性维护 · Maintenance"]


def edit_details(page: Page) -> None:
    page.locator("input[name=venue]").fill("上海世博中心 Expo Centre")
    page.locator("input[name=capacity]").fill("250")
    page.locator("input[name=map_url]").fill("https://uri.amap.com/marker?position=121.49,31.18")
    page.locator("input[name=latitude]").fill("31.1866")
    page.locator("input[name=longitude]").fill("121.4904")
    page.locator("textarea[name=transport_notes]").fill("Metro line 8, exit 2")
    page.locator("input[name=gift]").fill("定制保温杯 · Thermos flask")
    page.get_by_role("button", name="Save details").click()
    expect(page.locator(".flash--success")).to_have_text("The details are saved.")
    expect(page.locator("input[name=venue]")).to_have_value("上海世博中心 Expo Centre")


def upload_cover(page: Page, folder: Path) -> None:
    photo = folder / "cover.png"
    Image.new("RGB", (1600, 900), (31, 94, 255)).save(photo)
    page.locator("input[name=image]").set_input_files(photo)
    page.locator("#cover").get_by_role("button", name="Upload image").click()
    expect(page.locator(".flash--success")).to_have_text("The new cover image is saved.")
    cover = page.locator("img.cover-preview")
    expect(cover).to_be_visible()
    assert cover.evaluate("(img) => img.complete && img.naturalWidth") == 1600


def build_agenda(page: Page) -> None:
    page.locator(".subnav").get_by_role("link", name="Agenda").click()
    page.wait_for_url(re.compile(r"/setup/agenda$"))
    add = page.locator("#add-item form")
    for time, title in (("09:30", "开幕致辞 Opening address"), ("10:00", "Keynote: industrial AI")):
        add.locator("input[name=new-time]").fill(time)
        add.locator("input[name=new-title]").fill(title)
        add.get_by_role("button", name="Add to agenda").click()
        expect(page.locator(".flash--success")).to_have_text("Added to the agenda.")
    page.locator("#item-1").get_by_role("button", name="Move up").click()
    titles = page.locator(".agenda-item input[name$=-title]")
    expect(titles.nth(0)).to_have_value("Keynote: industrial AI")
    expect(titles.nth(1)).to_have_value("开幕致辞 Opening address")


def add_single_choice_question(page: Page) -> None:
    page.locator(".subnav").get_by_role("link", name="Booking form").click()
    page.wait_for_url(re.compile(r"/setup/form$"))
    form = page.locator("#add-question form")
    expect(form.locator(".question-options")).to_be_hidden()  # a text question: no options
    form.locator("select[name=new-kind]").select_option("single")
    expect(form.locator(".question-options")).to_be_visible()
    form.locator("input[name=new-label]").fill("您最关心的议题 · Topic you care about most")
    form.locator("textarea[name=new-options]").fill("\n".join(OPTIONS))
    form.locator("input[name=new-required]").check()
    form.get_by_role("button", name="Add question").click()
    expect(page.locator(".flash--success")).to_contain_text("Question added.")


def expect_question_in_preview(page: Page) -> None:
    question = page.locator(".form-preview .preview-question")
    expect(question).to_have_count(1)
    expect(question.locator("legend")).to_contain_text("Topic you care about most")
    expect(question.locator("input[type=radio]")).to_have_count(len(OPTIONS))
    expect(question.locator(".preview-choice")).to_have_text(OPTIONS)
    question.locator(".preview-choice").nth(1).click()  # one choice: the others go off
    expect(question.locator("input[type=radio]").nth(1)).to_be_checked()


@pytest.mark.parametrize("device", ["desktop", "tablet"])
def test_a_marketer_sets_up_and_publishes_an_event(browse: Browsing, make: Factory,
                                                   device: str, tmp_path: Path) -> None:
    event = make.event(title="Smart Factory Summit", status=EventStatus.DRAFT)
    marketer = make.user(name="周敏")
    make.membership(event, marketer, "marketer")
    page = browse.open(device, "en-US")
    log_in(page, marketer.email, Factory.PASSWORD)

    page.goto(f"/events/{event.slug}/")
    page.locator(".event-nav").get_by_role("link", name="Set-up").click()
    page.wait_for_url(re.compile(rf"/events/{event.slug}/setup$"))
    expect(page.locator(".event-nav a[aria-current=page]")).to_have_text("Set-up")
    expect(page.locator(".publish h2")).to_have_text("Not published")
    edit_details(page)
    upload_cover(page, tmp_path)
    expect_tidy(page, device)
    browse.screenshot(page, f"setup-details-{device}")

    build_agenda(page)
    expect_tidy(page, device)
    browse.screenshot(page, f"setup-agenda-{device}")

    add_single_choice_question(page)
    expect_question_in_preview(page)
    expect(page.locator(".event-nav a[aria-current=page]")).to_have_text("Set-up")

    page.locator(".publish").get_by_role("button", name="Publish").click()
    expect(page.locator(".flash--success")).to_contain_text("The event is published.")
    page.wait_for_url(re.compile(r"/setup/form$"))  # back where the button was pressed
    expect(page.locator(".publish h2")).to_have_text("Published")
    expect(page.locator(".publish__link a")).to_have_text(
        re.compile(rf"^http://127\.0\.0\.1:5000/e/{event.slug}$"))
    expect_question_in_preview(page)
    expect_tidy(page, device)
    if device == "tablet":
        expect_touch_targets(page, ".setup .button, .subnav a, .segmented__option span")
    browse.screenshot(page, f"setup-form-{device}")


def test_a_too_large_cover_is_refused_before_it_is_sent(browse: Browsing, make: Factory,
                                                       app: Flask, tmp_path: Path) -> None:
    app.config["COVER_MAX_MB"] = 20 * 1024  # 20 KB, for this test
    event = make.event(status=EventStatus.DRAFT)
    marketer = make.user()
    make.membership(event, marketer, "marketer")
    photo = tmp_path / "photo.jpg"
    Image.frombytes("RGB", (300, 300), os.urandom(300 * 300 * 3)).save(photo, quality=95)
    assert photo.stat().st_size > 20 * 1024
    page = browse.open("desktop", "en-US")
    log_in(page, marketer.email, Factory.PASSWORD)
    page.goto(f"/events/{event.slug}/setup")

    uploads: list[str] = []
    page.on("request", lambda request: uploads.append(request.url)
            if request.url.endswith("/setup/cover") else None)
    page.locator("input[name=image]").set_input_files(photo)
    note = page.locator("#cover .field__error")
    expect(note).to_have_text("The image is larger than 0.0195 MB. Save it smaller (1600 px "
                              "wide is plenty) and upload it again.")
    page.locator("#cover").get_by_role("button", name="Upload image").click()
    expect(page.locator("img.cover-preview")).to_have_count(0)
    assert page.locator("input[name=image]").evaluate("(input) => input.validity.valid") is False
    assert uploads == []
