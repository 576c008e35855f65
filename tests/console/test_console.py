"""The console, page by page, in headless chromium against ``voice-gateway dev`` with vendor fakes: sign in, real
data on every page (asserted on the DOM), keys created and revoked, a request found in Logs, synthesized audio
played, a live transcript from the fake microphone, a chat answer, and /docs rendered offline. One browser session
walks through in order (each test builds on the sign-in); each page leaves a screenshot in build/screenshots/."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.console.conftest import ADMIN_TOKEN, SPOKEN, Console, screenshot
from tests.fakes.deepgram_ws import WORDS
from tests.fakes.harness import Fault

pytestmark = pytest.mark.timeout(300)


def wait(driver: Any, until: Callable[[Any], Any], seconds: float = 15) -> Any:
    # pages re-render whole sections: an element found a moment ago may be gone, so look again
    try:
        return WebDriverWait(driver, seconds, poll_frequency=0.1,
                             ignored_exceptions=(StaleElementReferenceException,)).until(until)  # fmt: skip
    except TimeoutException:
        console_log = [e["message"] for e in driver.get_log("browser")]
        body = driver.find_element(By.TAG_NAME, "body").text
        raise AssertionError(f"timed out; page text:\n{body[:3000]}\nbrowser console:\n{console_log[-20:]}") from None


def css(driver: Any, selector: str) -> Any:
    return wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, selector))


def goto(driver: Any, page: str) -> Any:
    driver.execute_script("location.hash = arguments[0]", f"#/{page}")
    return wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, f'[data-page="{page}"][data-ready]'))


def metric(driver: Any, name: str) -> str:
    return css(driver, f'[data-metric="{name}"] .value').text


def fail_the_first_choice_once(console: Console) -> str:
    """Make the vendor the strategy tries first answer 503 once; returns the vendor that will take over."""
    r = console.api("POST", "/voice/synthesize", console.dev_key, json={"text": "who goes first?"})
    first = r.headers["x-provider"]
    console.fakes[first].fail(Fault("status", status=503))
    return next(v for v in console.fakes if v != first)


def test_sign_in(console: Console, browser: Any) -> None:
    for text in ("Hello from the browser test.", "A second request.", "And a third one."):
        r = console.api("POST", "/voice/synthesize", console.dev_key, json={"text": text, "provider": "openai"})
        assert r.status_code == 200, r.text
    second = fail_the_first_choice_once(console)
    r = console.api("POST", "/voice/synthesize", console.dev_key, json={"text": "This one fails over."})
    assert (r.status_code, r.headers["x-provider"], r.headers["x-attempts"]) == (200, second, "2")
    bad = console.api("POST", "/voice/synthesize", console.dev_key, json={"text": ""})
    assert bad.status_code == 422
    browser.get(console.url + "/console/")
    css(browser, "#token").send_keys("not-a-token")
    css(browser, "#signin button").click()
    assert "not valid" in wait(browser, lambda d: d.find_element(By.ID, "signin-error").text or None)
    screenshot(browser, "signin")
    token = css(browser, "#token")
    token.clear()
    token.send_keys(ADMIN_TOKEN)
    css(browser, "#signin button").click()
    wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, '[data-page="overview"][data-ready="true"]'))
    assert css(browser, "#who").text == "admin"


def test_overview_shows_the_traffic(console: Console, browser: Any) -> None:
    goto(browser, "overview")
    assert int(metric(browser, "requests")) >= 6
    assert int(metric(browser, "failovers")) >= 1
    assert metric(browser, "errorRate") != "0.0%"  # the 422 above
    assert metric(browser, "p95").endswith("ms") and metric(browser, "spend").startswith("$0.")
    vendors = css(browser, "#by-vendor table").text
    assert "openai" in vendors
    assert "tts" in css(browser, "#by-capability table").text
    drawn = browser.execute_script(
        "return Chart.getChart(document.getElementById('chart-requests')).data.datasets[0].data"
    )
    assert sum(x or 0 for x in drawn) >= 4
    screenshot(browser, "overview")


def test_vendors_page_lists_health_and_circuits(console: Console, browser: Any) -> None:
    goto(browser, "vendors")
    rows = {
        r.find_element(By.CSS_SELECTOR, "td").text: r.text
        for r in browser.find_elements(By.CSS_SELECTOR, "#vendor-table tbody tr")
    }
    assert "openai" in rows and "deepgram" in rows
    assert "closed" in rows["openai"] or "healthy" in rows["openai"]
    assert "tts:" in rows["openai"]
    failovers = css(browser, "#failovers tbody").text
    assert "switched" in failovers and "server" in failovers
    screenshot(browser, "vendors")


def test_workspaces_create_key_then_revoke_it(console: Console, browser: Any) -> None:
    goto(browser, "workspaces")
    css(browser, "#new-workspace-name").send_keys("browser-made")
    css(browser, "#create-workspace button").click()
    workspace_id = wait(
        browser,
        lambda d: (lambda e: "browser-made" in e.text and e.get_attribute("data-workspace"))(
            d.find_element(By.CSS_SELECTOR, "#workspace[data-workspace]")
        ),
    )
    css(browser, "#key-name").send_keys("from the browser")
    css(browser, "#create-key button").click()
    key = wait(browser, lambda d: d.find_element(By.ID, "new-key-value").text or None)
    assert key.startswith("vgw_")
    assert console.api("GET", "/usage", key).json()["workspaceId"] == workspace_id
    assert "from the browser" in css(browser, "#keys").text
    screenshot(browser, "workspaces")
    key_id = [
        k
        for k in console.api("GET", f"/admin/workspaces/{workspace_id}").json()["keys"]
        if k["name"] == "from the browser"
    ][0]["id"]
    css(browser, f'[data-revoke="{key_id}"]').click()
    wait(browser, lambda d: "revoked" in d.find_element(By.ID, "keys").text)
    assert console.api("GET", "/usage", key).status_code == 401
    byok = "sk-byok-never-shown-0123456789"
    r = console.api("PUT", f"/admin/workspaces/{workspace_id}/providers/openai", json={"apiKey": byok})
    assert r.status_code == 200, r.text
    wait(browser, lambda d: [e for e in d.find_elements(By.CSS_SELECTOR, "tbody tr") if "browser-made" in e.text])[
        0
    ].click()
    assert "stored" in wait(browser, lambda d: (lambda t: "openai" in t and t)(d.find_element(By.ID, "byok").text))
    assert byok not in browser.page_source
    css(browser, "#toggle-status").click()
    wait(browser, lambda d: "suspended" in d.find_element(By.CSS_SELECTOR, "#workspace h2").text)
    assert console.api("GET", f"/admin/workspaces/{workspace_id}").json()["status"] == "suspended"


def test_a_request_appears_in_logs_with_its_detail(console: Console, browser: Any) -> None:
    r = console.api(
        "POST", "/voice/synthesize", console.dev_key, json={"text": "find me in the log", "provider": "openai"}
    )
    request_id = r.headers["x-request-id"]
    goto(browser, "logs")
    css(browser, "#log-filters input[name=route]").send_keys("/voice/synthesize")
    css(browser, "#log-filters button").click()
    wait(
        browser,
        lambda d: all("/voice/synthesize" in e.text for e in d.find_elements(By.CSS_SELECTOR, "#log-rows tbody tr")),
    )
    row = wait(
        browser, lambda d: [e for e in d.find_elements(By.CSS_SELECTOR, "#log-rows tbody tr") if request_id in e.text]
    )[0]
    assert "/voice/synthesize" in row.text and "openai" in row.text and "200" in row.text
    row.click()
    detail = wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, f'#request-detail[data-request="{request_id}"]'))
    assert "time to first byte" in detail.text and "characters" in detail.text and "openai" in detail.text
    screenshot(browser, "logs")
    css(browser, "#log-filters input[name=route]").clear()
    Select(css(browser, "#log-filters select[name=status]")).select_by_value("4xx")
    css(browser, "#log-filters button").click()
    wait(
        browser,
        lambda d: all(
            "422" in e.text or "401" in e.text or "403" in e.text
            for e in d.find_elements(By.CSS_SELECTOR, "#log-rows tbody tr")
        ),
    )


def test_usage_report_and_csv(console: Console, browser: Any) -> None:
    goto(browser, "usage")
    Select(css(browser, "#usage-workspace")).select_by_visible_text("dev")
    wait(browser, lambda d: "openai" in d.find_element(By.ID, "usage-by-vendor").text)
    assert metric(browser, "billed").startswith("$0.") and int(metric(browser, "billedRequests")) >= 4
    csv = browser.execute_async_script(
        "const done = arguments[0]; fetch(document.getElementById('export-csv').href).then(r => r.text()).then(done)"
    )
    assert csv.startswith("section,key,requests") and "\nvendor,openai," in csv and "\nday," in csv
    screenshot(browser, "usage")


def test_playground_speaks_listens_and_chats(console: Console, browser: Any) -> None:
    goto(browser, "playground")
    key = css(browser, "#play-key")
    key.send_keys(console.dev_key)
    browser.execute_script("arguments[0].dispatchEvent(new Event('change'))", key)
    Select(css(browser, "#tts-vendor")).select_by_value("openai")
    Select(css(browser, "#tts-format")).select_by_value("wav")
    css(browser, "#tts-speak").click()
    assert "openai" in wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, "#tts-result .vendor").text or None)
    played = wait(
        browser,
        lambda d: d.execute_script(
            "const a = document.getElementById('tts-audio');"
            " return a.duration > 0 && a.currentTime > 0 ? a.duration : null"
        ),
    )
    assert played > 0
    second = fail_the_first_choice_once(console)
    Select(css(browser, "#tts-vendor")).select_by_value("")  # the strategy decides
    Select(css(browser, "#tts-format")).select_by_value("mp3")
    css(browser, "#tts-speak").click()
    assert "2 attempts" in wait(
        browser, lambda d: d.find_element(By.CSS_SELECTOR, "#tts-result .failover").text or None
    )
    assert css(browser, "#tts-result .vendor").text == second

    Select(css(browser, "#stt-vendor")).select_by_value("deepgram")
    css(browser, "#rt-start").click()
    heard = wait(browser, lambda d: d.find_element(By.ID, "transcript").text.strip() or None, seconds=30)
    assert any(WORDS[i] in heard for i in SPOKEN), heard
    css(browser, "#rt-stop").click()
    wait(browser, lambda d: "closed" in d.find_element(By.ID, "rt-state").text, seconds=15)
    assert "session ended" in css(browser, "#rt-events").text

    css(browser, "#chat-send").click()
    answer = wait(browser, lambda d: d.find_element(By.ID, "chat-text").text or None, seconds=20)
    assert answer and "openai" in css(browser, "#chat-result .vendor").text
    screenshot(browser, "playground")
    time.sleep(0.2)
    rows = console.api("GET", "/admin/logs", params={"route": "/voice/realtime"}).json()["requests"]
    assert rows and rows[0]["vendor"] == "deepgram" and rows[0]["method"] == "WS" and rows[0]["audioSeconds"] > 0


def test_workspace_key_sign_in_sees_only_its_workspace(console: Console, browser: Any) -> None:
    css(browser, "#signout").click()
    css(browser, "#token").send_keys(console.dev_key)
    css(browser, "#signin button").click()
    wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, '[data-page][data-ready="true"]'))
    assert css(browser, "#who").text.startswith("workspace ")
    assert not browser.find_element(By.CSS_SELECTOR, '#nav a[href="#/workspaces"]').is_displayed()
    goto(browser, "logs")
    assert "workspace" not in css(browser, "#log-rows thead").text
    css(browser, "#signout").click()


def test_docs_render_offline(console: Console, browser: Any) -> None:
    browser.get(console.url + "/docs")
    wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) > 20, seconds=30)
    assert "Voice AI Gateway" in css(browser, ".title").text
    synthesize = [e for e in browser.find_elements(By.CSS_SELECTOR, ".opblock-post") if "/voice/synthesize" in e.text]
    synthesize[0].find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    body = wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, ".opblock-post.is-open .opblock-body").text or None)
    assert "Request body" in body and '"text"' in body and "422" in body
    # "Try it out": authorize with a workspace key, send a body, get the audio back
    css(browser, ".auth-wrapper .authorize").click()
    css(browser, ".modal-ux input").send_keys(console.dev_key)
    css(browser, ".modal-ux .auth-btn-wrapper .authorize").click()
    css(browser, ".modal-ux .btn-done").click()
    editor = css(browser, ".opblock-post.is-open textarea.body-param__text")
    editor.send_keys(Keys.CONTROL, "a")
    editor.send_keys(Keys.DELETE)
    editor.send_keys('{"text": "Sent from Swagger UI.", "provider": "openai"}')
    css(browser, ".opblock-post.is-open .execute").click()
    status = wait(
        browser, lambda d: d.find_element(By.CSS_SELECTOR, ".live-responses-table tbody .response-col_status")
    )
    assert status.text.strip().startswith("200"), status.text
    screenshot(browser, "docs")
    browser.get(console.url + "/redoc")
    wait(browser, lambda d: "Voice AI Gateway" in d.find_element(By.TAG_NAME, "body").text, seconds=30)
