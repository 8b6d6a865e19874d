"""The leaderboard's ``index.html`` in headless Chromium, as a reader uses it: sorting and
filtering change the rows, every plot loads, and nothing is fetched from anywhere else.

Needs Debian's ``chromium`` and ``chromium-driver``. Without them the test is skipped, except
under CI (``CI=true``), where ``.ci/run`` installs them and a skip would hide a broken page.
"""

import json
import os
import shutil

import pytest

from fixtures.results import FIXTURE_MODELS, write_fixture_results
from leaderboard.check import load_runs
from leaderboard.site import write_site
from leaderboard.table import build_tables

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture
def browser():
    if not (CHROMIUM and DRIVER):
        reason = "chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: {reason}; .ci/run installs them")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})  # every request, to check none leaves
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def visible_rows(driver, section: str | None = None) -> list[list[str]]:
    scope = f'section[data-benchmark="{section}"] ' if section else ""
    return driver.execute_script(
        f"return Array.from(document.querySelectorAll('{scope}tbody tr')).filter(r => !r.hidden && "
        "!r.closest('section').hidden).map(r => Array.from(r.cells).map(c => c.textContent));"
    )


def test_index_html_sorts_filters_and_loads_every_plot(tmp_path, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    write_fixture_results(tmp_path / "results")
    loaded = load_runs([tmp_path / "results"])
    tables = build_tables(loaded.runs, FIXTURE_MODELS)
    write_site(tmp_path / "site", tables, loaded)
    browser.get((tmp_path / "site" / "index.html").as_uri())
    WebDriverWait(browser, 20).until(
        lambda d: d.execute_script("return Array.from(document.images).every(i => i.complete)")
    )

    # every plot: one overview per benchmark, confusion + recall per reproduced row
    images = browser.execute_script("return Array.from(document.images).map(i => [i.src, i.naturalWidth]);")
    reproduced = sum(row.reproduced for table in tables for row in table.rows)
    assert len(images) == len(tables) + 2 * reproduced == 6 + 2 * 11
    assert all(width > 0 for _, width in images), [src for src, width in images if not width]
    requested = {
        message["params"]["request"]["url"]
        for message in (json.loads(entry["message"])["message"] for entry in browser.get_log("performance"))
        if message["method"] == "Network.requestWillBeSent"
    }
    assert {src for src, _ in images} | {(tmp_path / "site" / "index.html").as_uri()} <= requested
    assert all(url.startswith("file://") for url in requested), requested

    # sorting: the synth table starts best UF1 first; UF1 again reverses it, model sorts A to Z
    synth = "synth-casme2-5-loso"
    (table,) = [table for table in tables if table.benchmark.slug == synth]
    uf1 = {row.variant: row.mean("uf1") for row in table.rows}
    first = [cells[1] for cells in visible_rows(browser, synth)]
    assert first == sorted(uf1, key=uf1.get, reverse=True)
    header = browser.find_element(
        By.CSS_SELECTOR, f'section[data-benchmark="{synth}"] thead th:nth-child(4) button'
    )
    assert header.text == "UF1"
    header.click()  # already best first: descending again
    assert [cells[1] for cells in visible_rows(browser, synth)] == first
    header.click()
    assert [cells[1] for cells in visible_rows(browser, synth)] == first[::-1]
    browser.find_element(
        By.CSS_SELECTOR, f'section[data-benchmark="{synth}"] thead th:nth-child(1) button'
    ).click()
    assert [cells[0] for cells in visible_rows(browser, synth)] == ["alpha", "alpha", "beta"]

    # filtering: words, a benchmark, published-only rows
    everything = len(visible_rows(browser))
    assert everything == sum(len(table.rows) for table in tables) == 12
    browser.find_element(By.ID, "filter").send_keys("beta")
    assert [cells[0] for cells in visible_rows(browser)] == ["beta"]
    assert browser.find_element(By.ID, "shown").text == "1 row shown"
    browser.find_element(By.ID, "filter").clear()
    browser.execute_script("document.getElementById('filter').dispatchEvent(new Event('input'))")
    Select(browser.find_element(By.ID, "benchmark")).select_by_value("megc2019-megc2019-3-loso")
    # gamma ran on megc2019-flow, an input form of megc2019: its row sits in the megc2019 table
    assert [(cells[0], cells[3]) for cells in visible_rows(browser)] == [("alpha", "megc2019"), ("gamma", "megc2019-flow")]
    Select(browser.find_element(By.ID, "benchmark")).select_by_value("casme2-casme2-5-loso")
    assert [cells[0] for cells in visible_rows(browser)] == ["gamma"]
    browser.find_element(By.ID, "published-only").click()
    assert visible_rows(browser) == []

    # an option value that is markup is shown as text
    Select(browser.find_element(By.ID, "benchmark")).select_by_value("")
    variants = [cells[1] for cells in visible_rows(browser, synth)]
    assert "tag=<script>alert(1)</script>|*x*" in variants
