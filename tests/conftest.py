"""Shared fixtures: the devices to test on (CPU always, CUDA when this machine has it)."""

from __future__ import annotations

import pytest
import torch

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request: pytest.FixtureRequest) -> torch.device:
    """Each device of this machine in turn: tests taking it run on CPU, and on CUDA where present."""
    return torch.device(request.param)


def _chromium() -> str | None:
    import shutil

    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture
def open_in_chromium():  # type: ignore[no-untyped-def]
    """``open(path) -> {"messages", "images", "tables", "title"}``: load an HTML file in headless Chromium
    (Debian's, driven by Playwright) and report console errors and warnings, page errors and failed requests
    (``messages``), each image's ``[complete, width, height]``, the number of tables and the title. Skips
    with the reason where Playwright or Chromium is missing (``make test`` installs both where it can)."""
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright (the test extra) is missing")
    browser_path = _chromium()
    if browser_path is None:
        pytest.skip("no Chromium on this machine: `make test` installs Debian's chromium where apt-get can")

    def open_page(path):  # type: ignore[no-untyped-def]
        messages: list[str] = []
        with playwright.sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
            try:
                page = browser.new_page()
                page.on("console", lambda m: m.type == "log" or messages.append(f"{m.type}: {m.text}"))
                page.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
                page.on("requestfailed", lambda r: messages.append(f"requestfailed: {r.url}"))
                page.goto(path.resolve().as_uri())
                page.wait_for_load_state("load")
                images = page.evaluate(
                    "Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight])"
                )
                tables = page.evaluate("document.querySelectorAll('table').length")
                title = page.title()
            finally:
                browser.close()
        return {"messages": messages, "images": images, "tables": tables, "title": title}

    return open_page
