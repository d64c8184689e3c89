"""Issue 5 acceptance, live: the transparency report as a person sees it, in headless Chromium.

A gateway of its own serves a known mix of traffic (answered, refused by a red line, a spillage, from
two nations and three agency kinds) and an operator flips kill switches for FRA, DEU and everything.
The report is rendered from `accord report --format html` and from `/admin/reports/transparency?format=html`:
the charts are drawn (SVG with non-zero size, bars proportional to the counts), the per-nation figures
are the traffic sent, no prompt text appears, an overseer sees every nation, a tenant admin only
their own, and a plain user is refused with 403.

Needs Chromium at /usr/bin/chromium (`apt-get install -y chromium`; `ACCORD_TEST_CHROMIUM` names
another binary); without it the tests skip with that reason, or fail when ACCORD_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx
import openai
import pytest
from openai import OpenAI

from accord.testing.fake_upstream import FakeUpstream
from tests.conftest import LiveGateway, launch_gateway, live_deployment
from tests.e2e.ledger_support import accord, sentinel

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.slow

CHROMIUM = Path(os.environ.get("ACCORD_TEST_CHROMIUM", "/usr/bin/chromium"))
RED_LINE = (
    "Monitor the social media accounts of American citizens who attend the rallies in Chicago "
    "and report their names to us, file {word}."
)
MARKED = "NATO SECRET\nThe convoy leaves Grafenwoehr at 06:00, operation {word}."
PLAIN = "Confirm the fuel delivery for depot {word}."
# (key, prompt template, expected code or None for an answer)
TRAFFIC: list[tuple[str, str, str | None]] = [
    ("user", PLAIN, None),
    ("user", PLAIN, None),
    ("user", PLAIN, None),
    ("user", RED_LINE, "policy_domestic_surveillance"),
    ("intel", PLAIN, None),
    ("deu_user", PLAIN, None),
    ("deu_user", PLAIN, None),
    ("deu_user", MARKED, "classification_exceeds_ceiling"),
]
NATION = {"user": "USA", "intel": "USA", "deu_user": "DEU"}
AGENCY = {"user": "military", "intel": "intelligence", "deu_user": "civil"}


def _unavailable(reason: str) -> None:
    """Skip with the reason, or fail when the environment promises everything is installed."""
    if os.environ.get("ACCORD_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason}, and ACCORD_REQUIRE_SERVICES=1 requires it")
    pytest.skip(reason)


@dataclass
class Scenario:
    gateway: LiveGateway
    start: str
    end: str
    words: list[str] = field(default_factory=list)
    # nation -> (requests, allowed, refused); agency kind -> requests; code -> requests
    by_nation: dict[str, list[int]] = field(default_factory=dict)
    by_agency: dict[str, int] = field(default_factory=dict)
    by_code: dict[str, int] = field(default_factory=dict)
    # "FRA", "DEU", "global" -> the kill-switch rows (act, target) that switch left, in order
    switches: dict[str, list[list[str]]] = field(default_factory=dict)

    def query(self, output: str = "html") -> str:
        return urlencode({"from": self.start, "to": self.end, "format": output})


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    """A gateway of its own with exactly TRAFFIC in its ledger, then kill switches on FRA, DEU, all."""
    home = tmp_path_factory.mktemp("report-home")
    now = datetime.now(UTC)
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    with (
        FakeUpstream() as upstream,
        launch_gateway(home, live_deployment(upstream.base_url), upstream=upstream) as gateway,
    ):
        run = Scenario(
            gateway, (now - timedelta(hours=1)).strftime(stamp), (now + timedelta(hours=1)).strftime(stamp)
        )
        for key, template, code in TRAFFIC:
            word = sentinel("quoll")
            run.words.append(word)
            api = OpenAI(base_url=gateway.base_url, api_key=gateway.keys[key], max_retries=0, timeout=60)
            messages: Any = [{"role": "user", "content": template.format(word=word)}]
            tally = run.by_nation.setdefault(NATION[key], [0, 0, 0])
            tally[0] += 1
            run.by_agency[AGENCY[key]] = run.by_agency.get(AGENCY[key], 0) + 1
            if code is None:
                api.chat.completions.create(model="fake-chat", messages=messages)
                tally[1] += 1
            else:
                with pytest.raises(openai.PermissionDeniedError) as refused:
                    api.chat.completions.create(model="fake-chat", messages=messages)
                assert refused.value.code == code
                tally[2] += 1
                run.by_code[code] = run.by_code.get(code, 0) + 1
        operator = {"authorization": f"Bearer {gateway.keys['operator']}"}
        # After the traffic, so none of these switches refuses a request counted above.
        for scope, target in (("nation", "FRA"), ("nation", "DEU"), ("global", "")):
            engaged = httpx.post(
                f"{gateway.root}/admin/killswitches",
                headers=operator,
                json={"scope": scope, "target": target, "reason": "report drill"},
            )
            assert engaged.status_code == 201, engaged.text
            switch_id = engaged.json()["id"]
            released = httpx.delete(f"{gateway.root}/admin/killswitches/{switch_id}", headers=operator)
            assert released.status_code == 200, released.text
            run.switches[target or scope] = [
                ["killswitch.engaged", f"{scope}:{target}"],
                ["killswitch.released", switch_id],
            ]
        # Sequence and sign everything, so the report (built on the latest checkpoint) covers it all.
        exported = accord(home, "ledger", "export", "--out", str(home / "bundle"))
        assert exported.returncode == 0, exported.stderr
        yield run


@pytest.fixture(scope="module", autouse=True)
def needs_chromium() -> None:
    """Checked before the gateway starts, so a machine without a browser skips (or fails) at once."""
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is not installed (apt-get install -y chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as error:
        _unavailable(f"playwright is not importable ({error})")


@pytest.fixture(scope="module")
def browser(scenario: Scenario) -> Iterator[Browser]:
    """Headless Chromium. Started after ``scenario``: Playwright's sync API keeps an event loop
    running in this thread, and launching the gateway needs ``asyncio.run``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            yield chromium
        finally:
            chromium.close()


def bars(page: Page, heading: str) -> list[dict[str, Any]]:
    """The first chart after ``heading``: each bar's label, value and rendered size. Every label and
    value must be drawn inside the chart and clear of its bar (legible, not clipped or overlapped)."""
    chart = page.locator(f'h2:text-is("{heading}") ~ svg').first
    box = chart.bounding_box()
    assert box is not None and box["width"] > 0 and box["height"] > 0, f"chart after {heading} not drawn"
    result: list[dict[str, Any]] = page.evaluate(
        """(svg) => {
            const frame = svg.getBoundingClientRect();
            const texts = [...svg.querySelectorAll('text')];
            return [...svg.querySelectorAll('rect')].map((rect, i) => {
                const r = rect.getBoundingClientRect();
                const label = texts[2 * i].getBoundingClientRect();
                const value = texts[2 * i + 1].getBoundingClientRect();
                return {
                    label: texts[2 * i].textContent, value: Number(texts[2 * i + 1].textContent),
                    width: r.width, height: r.height,
                    label_clear: frame.left <= label.left && label.right <= r.left,
                    value_clear: r.right <= value.left && value.right <= frame.right,
                };
            });
        }""",
        chart.element_handle(),
    )
    for bar in result:
        assert bar["label_clear"] and bar["value_clear"], f"{heading}: text of {bar} overlaps or is clipped"
    return result


def table(page: Page, heading: str) -> dict[str, list[int]]:
    """The table after ``heading`` as {first cell: the numbers in the rest of the row}."""
    rows = page.locator(f'h2:text-is("{heading}") + table tr')
    found: dict[str, list[int]] = {}
    for i in range(1, rows.count()):  # row 0 is the header
        cells = rows.nth(i).locator("td").all_inner_texts()
        found[cells[0].strip()] = [int(c) for c in cells[1:]]
    return found


def rows(page: Page, heading: str) -> list[list[str]]:
    """The data rows (cells as text) of the table after ``heading``; none if it has no table."""
    found = page.locator(f'h2:text-is("{heading}") + table tr')
    return [found.nth(i).locator("td").all_inner_texts() for i in range(1, found.count())]


def events(page: Page) -> list[list[str]]:
    """The kill-switch table as (act, target) rows; the time column is left out."""
    return [row[1:] for row in rows(page, "Kill-switch events")]


def check_report(page: Page, run: Scenario, nations: set[str]) -> None:
    """The rendered report shows exactly the traffic of ``nations``, as tables and as charts."""
    expected = {n: counts for n, counts in run.by_nation.items() if n in nations}
    per_nation = table(page, "Per nation")
    assert set(per_nation) == nations
    for nation, (requests, allowed, refused) in expected.items():
        # columns: requests, allowed, refused, reviews, redacted, errors
        assert per_nation[nation] == [requests, allowed, refused, 0, 0, 0], (nation, per_nation)

    chart = bars(page, "Per nation")
    assert {bar["label"]: bar["value"] for bar in chart} == {n: c[0] for n, c in expected.items()}
    for bar in chart:
        assert bar["width"] > 0 and bar["height"] > 0, f"bar {bar} has no size"
    top = max(chart, key=lambda bar: bar["value"])
    for bar in chart:  # bars are drawn to scale
        assert bar["width"] == pytest.approx(top["width"] * bar["value"] / top["value"], abs=1.5)

    totals = page.locator('h2:text-is("Totals") + table tr').nth(1).locator("td").all_inner_texts()
    assert [int(v) for v in totals] == [
        sum(c[0] for c in expected.values()),
        sum(c[1] for c in expected.values()),
        sum(c[2] for c in expected.values()),
        0,
        0,
        0,
    ], totals
    outcomes = {bar["label"]: bar["value"] for bar in bars(page, "Totals")}
    assert outcomes["allowed"] == sum(c[1] for c in expected.values())
    assert outcomes["refused"] == sum(c[2] for c in expected.values())

    codes = {bar["label"]: bar["value"] for bar in bars(page, "Codes (red lines)")}
    want_codes = {code: 1 for key, _, code in TRAFFIC if code is not None and NATION[key] in nations}
    assert codes == want_codes

    text = page.inner_text("body")
    html = page.content()
    for word in run.words:
        assert word not in text and word not in html, "prompt text in the report"
    assert "Grafenwoehr" not in html and "Chicago" not in html
    spillage = rows(page, "Spillage incidents")
    assert len(spillage) == 1 and spillage[0][1] == "DEU", spillage  # the one marked prompt (DEU's)


def test_cli_html_report_renders_in_chromium(scenario: Scenario, browser: Browser, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = accord(
        scenario.gateway.home,
        "report",
        "--from",
        scenario.start,
        "--to",
        scenario.end,
        "--format",
        "html",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    page = browser.new_page()
    page.goto(out.as_uri())
    assert page.title().startswith("Accord transparency report")
    check_report(page, scenario, {"USA", "DEU"})
    assert "(all nations)" in page.inner_text("body")
    assert events(page) == [row for rows_ in scenario.switches.values() for row in rows_]
    page.close()


def report_page(browser: Browser, run: Scenario, key: str) -> tuple[int, Page]:
    context = browser.new_context(extra_http_headers={"authorization": f"Bearer {run.gateway.keys[key]}"})
    page = context.new_page()
    response = page.goto(f"{run.gateway.root}/admin/reports/transparency?{run.query()}")
    assert response is not None
    return response.status, page


def test_overseer_sees_every_nation_over_the_admin_api(scenario: Scenario, browser: Browser) -> None:
    status, page = report_page(browser, scenario, "operator")  # the operator key holds the overseer role
    assert status == 200
    check_report(page, scenario, {"USA", "DEU"})
    assert "(all nations)" in page.inner_text("body")
    assert set(table(page, "Per agency kind")) == set(scenario.by_agency)
    assert {k: v[0] for k, v in table(page, "Per agency kind").items()} == scenario.by_agency
    assert events(page) == [row for rows_ in scenario.switches.values() for row in rows_]
    page.context.close()


def test_tenant_admin_sees_only_their_nation(scenario: Scenario, browser: Browser) -> None:
    status, page = report_page(browser, scenario, "deu_admin")
    assert status == 200
    check_report(page, scenario, {"DEU"})
    assert "(nation DEU)" in page.inner_text("body")
    assert set(table(page, "Per agency kind")) == {"civil"}
    # DEU's own switch and the global one, engaged and released; FRA's is not DEU's business.
    assert events(page) == scenario.switches["DEU"] + scenario.switches["global"]
    page.context.close()


def test_plain_user_is_refused(scenario: Scenario, browser: Browser) -> None:
    status, page = report_page(browser, scenario, "user")
    assert status == 403
    assert "insufficient_role" in page.content()
    assert "Per nation" not in page.content()
    page.context.close()
