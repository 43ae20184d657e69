"""What a person does and notices on a page: logging in, the page's language, text that sticks
out of the screen, buttons too small for a finger."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from eventapp import PACKAGE

CATALOGUES = PACKAGE / "translations"
HTML_LANG = {"zh-CN": "zh-Hans-CN", "en-US": "en"}
CJK = re.compile(r"[\u4e00-\u9fff]")
HOME_URL = re.compile(r"^http://[^/]+/$")


def log_in(page: Page, email: str, password: str) -> None:
    """Through the real form, as a person does: open the site, type, press the button."""
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next=(/|%2F)$"))
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(password)
    page.locator("form:has(input[name=password]) button[type=submit]").click()
    try:
        page.wait_for_url(HOME_URL, timeout=5_000)
    except PlaywrightTimeoutError:
        errors = page.locator(".field__error, .flash").all_inner_texts()
        raise AssertionError(f"log-in of {email} did not reach the home page but {page.url}: "
                             f"{errors}") from None


def expect_language(page: Page, locale: str) -> None:
    expect(page.locator("html")).to_have_attribute("lang", HTML_LANG[locale])


def chinese_text_expected() -> bool:
    """Whether Chinese pages must show Chinese words: once the catalogue is written. A written
    but uncompiled (or stale) catalogue is a mistake of the run, told plainly."""
    catalogues = list(CATALOGUES.glob("zh*/LC_MESSAGES/messages.po"))
    for po in catalogues:
        mo = po.with_suffix(".mo")
        assert mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime, (
            f"{mo} is missing or older than its .po: run "
            "`.venv/bin/pybabel compile -d eventapp/translations` before the browser tests")
    return bool(catalogues)


def expect_words(target: Locator, locale: str, english: str) -> None:
    """The English words in en; in zh, other words in Chinese characters (whatever the
    translator chose), once the Chinese catalogue exists."""
    if locale == "en-US":
        expect(target).to_contain_text(english)
    elif chinese_text_expected():
        expect(target).not_to_contain_text(english)
        expect(target).to_contain_text(CJK)


def horizontal_overflow(page: Page) -> list[str]:
    """Elements that stick out to the right of the screen (empty when nothing scrolls
    sideways). Content inside its own scroll box (a wide table) does not count."""
    return page.evaluate("""() => {
      const width = window.innerWidth;
      if (document.documentElement.scrollWidth <= width) return [];
      const scrolls = (el) => { for (let a = el.parentElement; a; a = a.parentElement) {
          if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(a).overflowX)) return true; }
        return false; };
      const name = (el) => el.tagName.toLowerCase() +
        (typeof el.className === 'string' && el.className.trim()
          ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
      const out = [
        `page is ${document.documentElement.scrollWidth}px wide on a ${width}px screen`];
      for (const el of document.body.querySelectorAll('*')) {
        const box = el.getBoundingClientRect();
        if (box.right > width + 1 && box.width > 0 && !scrolls(el)) {
          out.push(`${name(el)} reaches ${Math.round(box.right)}px: ` +
                   JSON.stringify((el.innerText || '').slice(0, 40)));
        }
      }
      return out.slice(0, 12);
    }""")


def expect_no_horizontal_overflow(page: Page) -> None:
    overflow = horizontal_overflow(page)
    assert not overflow, f"{page.url} scrolls sideways:\n  " + "\n  ".join(overflow)


def small_touch_targets(page: Page, selector: str, min_height: float = 40) -> list[str]:
    """Visible elements matching `selector` shorter than `min_height` CSS pixels."""
    return page.evaluate("""([selector, minHeight]) => {
      const out = [];
      for (const el of document.querySelectorAll(selector)) {
        const box = el.getBoundingClientRect();
        if (box.width === 0 || box.height === 0) continue;
        if (box.height < minHeight) {
          out.push(`${el.tagName.toLowerCase()} ${JSON.stringify(el.innerText.trim() ||
                    el.getAttribute('aria-label') || '')} is ${box.height.toFixed(0)}px tall`);
        }
      }
      return out;
    }""", [selector, min_height])


def expect_touch_targets(page: Page, selector: str, min_height: float = 40) -> None:
    assert page.locator(selector).count(), f"nothing matches {selector!r} on {page.url}"
    small = small_touch_targets(page, selector, min_height)
    assert not small, f"too small for a finger on {page.url}:\n  " + "\n  ".join(small)


def lines_of(target: Locator) -> int:
    """On how many lines the browser laid out the element's text."""
    return target.evaluate("""(el) => {
      const range = document.createRange();
      range.selectNodeContents(el);
      return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
    }""")


def untidy_boxes(page: Page) -> list[str]:
    """Things a person would call broken: text spilling out of its box, a badge that is not
    a one-line pill."""
    return page.evaluate("""() => {
      const out = [];
      const text = (el) => JSON.stringify((el.innerText || '').trim().slice(0, 40));
      for (const el of document.querySelectorAll('.stat, .badge, .button, .card, .field')) {
        if (el.getClientRects().length && el.scrollWidth > el.clientWidth + 1) {
          out.push(`${el.className} ${text(el)}: ` +
                   `content ${el.scrollWidth}px wide in ${el.clientWidth}px`);
        }
      }
      for (const el of document.querySelectorAll('.badge')) {
        const height = el.getBoundingClientRect().height;
        if (height > 30) out.push(`badge ${text(el)} is ${height.toFixed(0)}px tall`);
      }
      return out;
    }""")


def expect_tidy(page: Page, device: str) -> None:
    """What a person notices first on a screen: sideways scrolling on a phone or tablet, text
    out of its box, misshapen badges."""
    if device in ("phone", "tablet"):
        expect_no_horizontal_overflow(page)
    untidy = untidy_boxes(page)
    assert not untidy, f"{page.url} on the {device} looks broken:\n  " + "\n  ".join(untidy)
