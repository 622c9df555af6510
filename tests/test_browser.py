"""The pages as a person meets them: a real server on 127.0.0.1 and headless Chromium (Debian's chromium and
chromium-driver) driven by Selenium. /docs runs a request with "Try it out", /redoc renders, the explorer
filters and escapes what it shows, and no page asks another host for anything. Screenshots go to
test-artifacts/; with SAVE_README_SCREENSHOTS=1 the README's pictures in docs/screenshots/ are remade."""

from __future__ import annotations

import json
import os
import shutil

import httpx
import pytest

from app.auth.keys import Scope, create_key
from app.content.schemas import ClaimIn, Evidence
from app.content.store import writing
from app.core.config import PROJECT_ROOT
from app.core.db import Database
from app.main import create_app
from tests.conftest import make_settings, serve_in_thread

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
CHROMEDRIVER = shutil.which("chromedriver")
try:
    from selenium import webdriver
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError:  # pragma: no cover - the test extras install it
    webdriver = None

MISSING = (
    "selenium is not installed (pip install -e '.[test]')"
    if webdriver is None
    else "no Chromium found (apt-get install chromium)"
    if not CHROMIUM
    else "no chromedriver found (apt-get install chromium-driver)"
    if not CHROMEDRIVER
    else None
)
if MISSING:
    if os.environ.get("CI") == "true":  # CI installs a browser: there a missing one is a failure, not a skip
        pytest.fail(f"browser tests cannot run in CI: {MISSING}", pytrace=False)
    pytest.skip(f"browser tests skipped: {MISSING}", allow_module_level=True)

ARTIFACTS = PROJECT_ROOT / "test-artifacts"
README_SHOTS = PROJECT_ROOT / "docs" / "screenshots"
WAIT = 20
EDITOR_KEY: dict[str, str] = {}  # the server's editor key, made with it
HOSTILE = '<img src="x" onerror="document.title=\'pwned\'"> <b>bold?</b> & "quotes"'


def save(driver, name: str, readme: bool = False) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))
    if readme and os.environ.get("SAVE_README_SCREENSHOTS") == "1":
        README_SHOTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(README_SHOTS / f"{name}.png"))


def add_hostile_claim(db: Database) -> None:
    """A claim whose text is markup: the explorer must show it as text, never run or render it."""
    with writing(db, "browser-test") as writer:
        writer.put(
            "claim",
            "markup-in-text",
            ClaimIn(
                topic="fecal-microbiota-transplantation",
                text=HOSTILE,
                source_excerpt=HOSTILE,
                conditions=["crohns-disease"],
                evidence=Evidence(kind="background", strength="very-low"),
            ),
        )


@pytest.fixture(scope="module")
def server(templates):
    """The app on a free 127.0.0.1 port, in a thread, over a copy of the seeded database."""
    url, cleanup = templates.fresh("seeded", True)
    settings = make_settings(url, rate_limit_anonymous="100000/minute")
    db = Database.from_settings(settings)
    add_hostile_claim(db)
    with db.write() as conn:
        EDITOR_KEY["key"] = create_key(conn, scope=Scope.editor, name="swagger-ui")
    try:
        with serve_in_thread(create_app(settings, db=db), WAIT) as base:
            yield base
    finally:
        db.dispose()
        cleanup()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    os.environ["SE_OFFLINE"] = "1"  # Selenium Manager must never try to download a driver or a browser
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-extensions",
        "--window-size=1280,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def requested_urls(driver) -> list[str]:
    """Every URL the page sent a request for since the last call (from Chromium's network log); one its
    Content-Security-Policy blocked never left the browser, so it does not count."""
    sent: dict[str, str] = {}
    blocked: set[str] = set()
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message["method"] == "Network.requestWillBeSent":
            sent[params["requestId"]] = params["request"]["url"]
        elif message["method"] == "Network.loadingFailed" and params.get("blockedReason") == "csp":
            blocked.add(params["requestId"])
    return [url for request_id, url in sent.items() if request_id not in blocked]


def assert_only_local_requests(driver, base: str) -> None:
    urls = requested_urls(driver)
    assert urls
    foreign = [u for u in urls if not u.startswith((base + "/", "data:", "blob:", "about:"))]
    assert not foreign, f"the page asked another host for: {foreign}"


def wait(driver, condition, message: str, timeout: float = WAIT):
    try:
        return WebDriverWait(driver, timeout).until(lambda d: condition(d))
    except TimeoutException:
        save(driver, "failure")
        raise AssertionError(message) from None


def test_swagger_ui_lists_every_operation_and_runs_one(server, browser):
    operations = sum(len(item) for item in httpx.get(server + "/openapi.json").json()["paths"].values())
    requested_urls(browser)
    browser.get(server + "/docs")
    wait(
        browser,
        lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) == operations,
        f"Swagger UI did not render the {operations} operations",
    )
    save(browser, "docs", readme=True)

    block = browser.find_element(By.ID, "operations-conditions-list_conditions")
    block.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    within = block.find_elements
    wait(browser, lambda d: within(By.CSS_SELECTOR, ".try-out__btn"), "no Try it out button")[0].click()
    wait(browser, lambda d: within(By.CSS_SELECTOR, "button.execute"), "no Execute button")[0].click()
    live = ".live-responses-table tr.response"
    status = wait(
        browser, lambda d: within(By.CSS_SELECTOR, f"{live} .response-col_status"), "Execute showed no response"
    )
    assert status[0].text.strip().startswith("200")
    body = block.find_element(By.CSS_SELECTOR, f"{live} .response-col_description pre").text
    assert "rheumatoid-arthritis" in body
    browser.execute_script("arguments[0].scrollIntoView()", block)
    save(browser, "docs-try-it-out")
    assert_only_local_requests(browser, server)


def test_swagger_ui_signs_in_with_a_key_and_writes(server, browser):
    """The document's security scheme gives Swagger UI its Authorize button: an editor signs in with a key
    and changes a topic from /docs; the key goes with the PATCH, which a request without one cannot do."""
    summary = "Edited from Swagger UI with an editor key."
    assert httpx.patch(server + "/v1/topics/introduction", json={"summary": summary}).status_code == 401
    browser.get(server + "/docs")
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "button.authorize"), "no Authorize button")[0].click()
    field = wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".auth-container input"), "no key field")[0]
    field.send_keys(EDITOR_KEY["key"])
    modal_button = "//div[contains(@class, 'auth-btn-wrapper')]//button[normalize-space()='{}']"
    browser.find_element(By.XPATH, modal_button.format("Authorize")).click()
    wait(browser, lambda d: d.find_elements(By.XPATH, modal_button.format("Logout")), "Swagger UI did not sign in")
    save(browser, "docs-authorize")
    browser.find_element(By.XPATH, modal_button.format("Close")).click()

    block = browser.find_element(By.ID, "operations-topics-update_topic")
    browser.execute_script("arguments[0].scrollIntoView()", block)
    block.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    within = block.find_elements
    wait(browser, lambda d: within(By.CSS_SELECTOR, ".try-out__btn"), "no Try it out button")[0].click()
    slug = wait(browser, lambda d: within(By.CSS_SELECTOR, "tr[data-param-name='slug'] input"), "no slug field")[0]
    slug.send_keys("introduction")
    body = within(By.CSS_SELECTOR, "textarea.body-param__text")[0]
    body.send_keys(Keys.CONTROL, "a")
    body.send_keys(Keys.DELETE)
    body.send_keys(json.dumps({"summary": summary}))
    within(By.CSS_SELECTOR, "button.execute")[0].click()
    live = ".live-responses-table tr.response"
    status = wait(
        browser, lambda d: within(By.CSS_SELECTOR, f"{live} .response-col_status"), "Execute showed no response"
    )
    answer = block.find_element(By.CSS_SELECTOR, f"{live} .response-col_description pre").text
    save(browser, "docs-authorized-patch")
    assert status[0].text.strip().startswith("200"), answer
    assert json.loads(answer)["summary"] == summary
    assert httpx.get(server + "/v1/topics/introduction").json()["summary"] == summary


def test_redoc_renders_the_operations(server, browser):
    requested_urls(browser)
    browser.get(server + "/redoc")
    headings = wait(
        browser,
        lambda d: [h.text for h in d.find_elements(By.CSS_SELECTOR, "h2") if h.text],
        "ReDoc rendered no headings",
    )
    wait(
        browser,
        lambda d: any(h.text == "List conditions" for h in d.find_elements(By.CSS_SELECTOR, "h2")),
        f"ReDoc did not render the operations; headings: {headings[:10]}",
    )
    assert any(h.text == "Get one claim" for h in browser.find_elements(By.CSS_SELECTOR, "h2"))
    save(browser, "redoc")
    assert_only_local_requests(browser, server)


def open_explorer(browser, server: str, query: str = "") -> None:
    browser.get(server + "/" + query)
    wait(
        browser,
        lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true",
        "the explorer did not load its choices",
    )


def card_texts(browser, list_id: str, selector: str) -> list[str]:
    return [e.text for e in browser.find_elements(By.CSS_SELECTOR, f"#{list_id} > li {selector}")]


def test_the_explorer_filters_by_condition(server, browser):
    claims = httpx.get(server + "/v1/claims", params={"condition": "dysbiosis", "limit": 100}).json()["items"]
    quotes = httpx.get(server + "/v1/quotes", params={"condition": "dysbiosis", "limit": 100}).json()["items"]
    assert claims and quotes
    requested_urls(browser)
    open_explorer(browser, server)
    assert card_texts(browser, "claims", "") == []
    Select(browser.find_element(By.ID, "condition")).select_by_value("dysbiosis")
    wait(browser, lambda d: len(card_texts(d, "claims", ".claim-text")) == len(claims), "the claims did not show")

    assert card_texts(browser, "claims", ".claim-text") == [c["text"] for c in claims]
    assert card_texts(browser, "claims", ".excerpt blockquote") == [c["source_excerpt"] for c in claims]
    assert card_texts(browser, "claims", ".kind") == [c["evidence"]["kind"] for c in claims]
    assert card_texts(browser, "claims", ".strength") == [c["evidence"]["strength"] for c in claims]
    wait(browser, lambda d: len(card_texts(d, "quotes", ".fit")) == len(quotes), "the quotes did not show")
    fits = {"within": "within", "near": "near", "outside": "outside"}
    for quote, fit in zip(quotes, card_texts(browser, "quotes", ".fit"), strict=True):
        assert f"{fits[quote['specialty_fit']]} their specialty" in fit
    assert browser.current_url.endswith("?condition=dysbiosis")
    save(browser, "explorer", readme=True)
    assert_only_local_requests(browser, server)


def test_the_explorer_filters_by_therapy_type(server, browser):
    params = {"therapy_type": "probiotic", "limit": 100}
    claims = httpx.get(server + "/v1/claims", params=params).json()["items"]
    assert claims
    open_explorer(browser, server)
    Select(browser.find_element(By.ID, "therapy-type")).select_by_value("probiotic")
    wait(
        browser,
        lambda d: card_texts(d, "claims", ".claim-text") == [c["text"] for c in claims],
        "the therapy type's claims did not show",
    )


def test_the_explorer_shows_markup_as_text(server, browser):
    open_explorer(browser, server, "?condition=crohns-disease")
    wait(browser, lambda d: HOSTILE in card_texts(d, "claims", ".claim-text"), "the claim did not show as text")
    assert not browser.find_elements(By.CSS_SELECTOR, "#claims img, #claims b")
    assert browser.title != "pwned"


def test_the_explorer_search_box(server, browser):
    open_explorer(browser, server)
    field = browser.find_element(By.ID, "q")
    field.send_keys("probiotics")
    browser.find_element(By.CSS_SELECTOR, "#search button[type=submit]").click()
    answer = httpx.get(server + "/v1/search", params={"q": "probiotics"})
    if answer.status_code == 404:  # search not deployed here: the page says so instead of breaking
        wait(
            browser,
            lambda d: "not available" in d.find_element(By.ID, "search-results").text,
            "the page did not say search is unavailable",
        )
        return
    assert answer.status_code == 200
    hits = answer.json()["items"]
    assert hits
    shown = "#search-results > li.hit"
    wait(
        browser,
        lambda d: len(d.find_elements(By.CSS_SELECTOR, shown)) == min(len(hits), 20),
        "the search results did not show",
    )
    if any("<mark>" in (hit.get("snippet") or "") for hit in hits):
        assert browser.find_elements(By.CSS_SELECTOR, "#search-results mark")
    save(browser, "explorer-search")


def test_the_explorer_fits_a_phone(server, browser):
    browser.set_window_size(390, 844)
    try:
        open_explorer(browser, server, "?condition=dysbiosis")
        wait(browser, lambda d: card_texts(d, "claims", ".claim-text"), "the claims did not show")
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the page scrolls sideways by {overflow}px at phone width"
        save(browser, "explorer-phone")
    finally:
        browser.set_window_size(1280, 1000)


def test_no_script_error_was_logged(server, browser):
    browser.get_log("browser")  # start from a clean log: earlier pages are checked by their own tests
    open_explorer(browser, server, "?condition=dysbiosis")
    browser.get(server + "/docs")
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock"), "Swagger UI did not render")
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe


def test_a_topic_page_reads_on_a_phone_with_no_script_and_nothing_from_elsewhere(server, browser):
    slug = "fecal-microbiota-transplantation"
    topic = httpx.get(f"{server}/v1/topics/{slug}").json()
    browser.get_log("browser")
    requested_urls(browser)
    browser.set_window_size(390, 844)
    try:
        browser.get(f"{server}/topics/{slug}")
        heading = wait(browser, lambda d: d.find_elements(By.TAG_NAME, "h1"), "the topic page has no heading")
        assert heading[0].text == topic["title"]
        assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
        claims = browser.find_elements(By.CSS_SELECTOR, "section[aria-labelledby=claims] li")
        assert len(claims) == len(topic["claims"])
        assert browser.find_elements(By.CSS_SELECTOR, "section[aria-labelledby=quotes] figure")
        ld = browser.find_element(By.CSS_SELECTOR, "script[type='application/ld+json']").get_attribute("textContent")
        assert json.loads(ld)["@type"] == "MedicalWebPage"
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the topic page scrolls sideways by {overflow}px at phone width"
        save(browser, "topic-page")
        assert_only_local_requests(browser, server)
        assert not [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    finally:
        browser.set_window_size(1280, 1000)


def test_an_infobutton_html_answer_opens_and_links_to_the_topic_page(server, browser):
    query = (
        "mainSearchCriteria.v.cs=2.16.840.1.113883.6.90&mainSearchCriteria.v.c=G35.A"
        "&informationRecipient.languageCode.c=es&knowledgeResponseType=text/html"
    )
    requested_urls(browser)
    browser.get(f"{server}/v1/infobutton?{query}")
    entries = wait(
        browser, lambda d: d.find_elements(By.CSS_SELECTOR, "ol.entries > li"), "the answer listed no entries"
    )
    assert "ancestor-code" in entries[0].text and "G35" in entries[0].text
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("Health-content API")
    link = entries[0].find_element(By.CSS_SELECTOR, "h2 a")
    assert link.get_attribute("hreflang") == "en"
    title = link.text
    save(browser, "infobutton-answer")
    assert_only_local_requests(browser, server)
    link.click()
    wait(
        browser,
        lambda d: d.find_elements(By.TAG_NAME, "h1") and d.find_element(By.TAG_NAME, "h1").text == title,
        "the entry's link did not open its topic page",
    )
    assert "/topics/" in browser.current_url


def test_a_feed_entry_link_opens_the_topic_page(server, browser):
    """What a feed reader does: take an entry's link (its first alternate, typed text/html) and open it."""
    import feedparser

    parsed = feedparser.parse(httpx.get(server + "/v1/feed.atom", params={"limit": 100}).content)
    assert not parsed.bozo and parsed.entries
    entry = next(e for e in parsed.entries if e.id.endswith(":fecal-microbiota-transplantation"))
    [page] = [link for link in entry.links if link.rel == "alternate" and link.type == "text/html"]
    assert entry.link == page.href == f"{server}/topics/fecal-microbiota-transplantation"
    item = next(
        i for i in httpx.get(server + "/v1/feed.json", params={"limit": 100}).json()["items"] if i["id"] == entry.id
    )
    assert item["url"] == entry.link
    requested_urls(browser)
    browser.get(entry.link)
    heading = wait(browser, lambda d: d.find_elements(By.TAG_NAME, "h1"), "the feed's link opened no page")
    assert heading[0].text == entry.title
    assert_only_local_requests(browser, server)


def test_the_explorer_links_topics_to_their_pages(server, browser):
    claims = httpx.get(server + "/v1/claims", params={"condition": "dysbiosis", "limit": 100}).json()["items"]
    open_explorer(browser, server, "?condition=dysbiosis")
    wait(browser, lambda d: len(card_texts(d, "claims", ".claim-text")) == len(claims), "the claims did not show")
    links = browser.find_elements(By.CSS_SELECTOR, "#claims > li a.topic-link")
    assert [link.text for link in links] == [c["topic"]["title"] for c in claims]
    assert all(link.get_attribute("type") == "text/html" for link in links)
    assert browser.find_elements(By.CSS_SELECTOR, "#quotes > li a.topic-link")
    first = claims[0]["topic"]
    links[0].click()
    wait(
        browser,
        lambda d: d.find_elements(By.TAG_NAME, "h1") and d.find_element(By.TAG_NAME, "h1").text == first["title"],
        "the explorer's topic link did not open the topic's page",
    )
    assert browser.current_url == f"{server}/topics/{first['slug']}"
    claim_items = browser.find_elements(By.CSS_SELECTOR, "section[aria-labelledby=claims] li")
    assert claim_items  # the page a person reads, with the claims the explorer showed


def test_the_explorer_search_opens_a_topic_as_its_page(server, browser):
    answer = httpx.get(server + "/v1/search", params={"q": "fecal microbiota", "limit": 20})
    if answer.status_code == 404:
        pytest.skip("search is not deployed on this server")
    topics = [hit for hit in answer.json()["items"] if hit["resource"] == "topic"]
    assert topics
    open_explorer(browser, server)
    browser.find_element(By.ID, "q").send_keys("fecal microbiota", Keys.ENTER)
    link = wait(
        browser,
        lambda d: d.find_elements(By.CSS_SELECTOR, "#search-results a.topic-link"),
        "no topic in the search results links to its page",
    )[0]
    assert link.get_attribute("href") == f"{server}/topics/{topics[0]['key']}"
    json_link = browser.find_element(By.CSS_SELECTOR, "#search-results a.json-link")
    assert json_link.get_attribute("href") == f"{server}/v1/topics/{topics[0]['key']}"
    link.click()
    wait(browser, lambda d: d.current_url == f"{server}/topics/{topics[0]['key']}", "the topic page did not open")
    assert browser.find_element(By.TAG_NAME, "h1").text == topics[0]["title"]
