"""Drives runnel's web console in a real headless Chromium (Debian's, through Playwright) against
a live worker and a private PostgreSQL that the Rust test (tests/console.rs) started.

Phases:
  main      sign in, create a connector through the form (a validation error first, then the
            fix), watch its events count up, pause and resume it, see a failing connector's
            trace, stop it and see its slot's retained WAL grow, run its checks, delete a
            connector with confirmation; keyboard navigation; axe-core on every page.
  readonly  the same worker started with --read-only: no actions anywhere.
  auth      without credentials nothing but the sign-in form is shown.
  topics    a worker with Kafka: its topics, offsets, and the message browser.

Exit status 0 when every step passed; the first failure is raised with what the page showed.
Screenshots of each page go to --shots.
"""

import argparse
import json
import os
import re
import shutil
import sys
import time

from playwright.sync_api import expect, sync_playwright

TIMEOUT_MS = 45_000


def chromium_path():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("no Chromium on this machine: scripts/install-deps.sh installs Debian's chromium")


class Console:
    def __init__(self, page, args):
        self.page = page
        self.args = args
        self.base = args.base.rstrip("/")

    def shot(self, name):
        os.makedirs(self.args.shots, exist_ok=True)
        self.page.screenshot(path=os.path.join(self.args.shots, f"{name}.png"), full_page=True)

    def axe(self, what):
        """axe-core's WCAG 2 A/AA rules on the page as it is: no serious or critical violation."""
        if not self.args.axe:
            raise SystemExit("RUNNEL_AXE_JS is not set: scripts/install-deps.sh installs axe-core")
        if not self.page.evaluate("typeof window.axe !== 'undefined'"):
            self.page.add_script_tag(path=self.args.axe)
        result = self.page.evaluate(
            """async () => {
                const r = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}});
                return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                  .map(v => ({id: v.id, help: v.help, nodes: v.nodes.map(n => n.html).slice(0, 3)}));
            }"""
        )
        assert not result, f"accessibility violations on {what}: {json.dumps(result, indent=1)}"

    def heading(self, text):
        expect(self.page.get_by_role("heading", level=1)).to_have_text(text)

    def go(self, hash_):
        self.page.goto(f"{self.base}/ui/{hash_}")

    def sign_in(self):
        self.heading("Sign in")
        self.page.get_by_label("Token").fill(self.args.token)
        self.page.get_by_role("button", name="Sign in").click()


def number(text):
    digits = re.sub(r"[^0-9]", "", text)
    return int(digits) if digits else 0


def bytes_value(text):
    m = re.match(r"([0-9.]+) (B|KiB|MiB|GiB)", text.strip())
    if not m:
        return -1
    return float(m.group(1)) * {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}[m.group(2)]


def wait_until(what, check, timeout_s=60):
    deadline = time.time() + timeout_s
    last = None
    while time.time() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what} (last: {last!r})")


def phase_main(c):
    page = c.page
    # A browser at / is sent to the console; the worker asks for the token.
    page.goto(c.base + "/")
    expect(page).to_have_url(re.compile(r"/ui/?(#.*)?$"))
    c.heading("Sign in")
    c.shot("sign-in")
    c.axe("the sign-in page")
    c.sign_in()
    c.heading("Connectors")
    expect(page.locator("tbody tr[data-name='broken']")).to_be_visible()

    # Keyboard: the first tab stop skips to the content; links and buttons work with Enter.
    page.locator(".brand").focus()
    page.keyboard.press("Shift+Tab")
    expect(page.locator(".skip")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    c.heading("Connectors")
    page.get_by_role("link", name="New connector").focus()
    page.keyboard.press("Enter")
    c.heading("New connector")

    # The form: a pasted config with a bad port and a misspelled key gets errors per field.
    page.get_by_label("Connector class").select_option("io.debezium.connector.postgresql.PostgresConnector")
    expect(page.locator("#f-database_hostname")).to_be_visible()
    page.get_by_text("Paste a config you already have").click()
    config = {
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "database.hostname": "127.0.0.1",
        "database.port": "not-a-port",
        "database.user": c.args.pg_user,
        "database.password": "",
        "database.dbname": "shop",
        "topic.prefix": "shop",
        "plugin.name": "pgoutput",
        "slot.nmae": "console_shop",
        "sink.type": "stdout",
    }
    page.get_by_label(re.compile("^JSON")).fill(json.dumps({"name": "shop", "config": config}))
    page.get_by_role("button", name="Fill the form from this JSON").click()
    port = page.locator("#f-database_port")
    expect(port).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-database_port-err")).not_to_be_empty()
    expect(page.locator("#other-keys-err")).to_contain_text('did you mean "slot.name"')
    c.shot("new-connector-errors")
    c.axe("the new-connector form with errors")
    # The fix: the real port, the slot under its right key.
    port.fill(str(c.args.pg_port))
    page.get_by_label(re.compile("^Other keys")).fill("sink.type=stdout")
    slot = page.locator("#f-slot_name")
    page.locator("details.group", has=slot).locator("summary").click()
    slot.fill("console_shop")
    expect(page.locator("#validation-state")).to_have_text("The config is valid.")
    page.get_by_role("button", name="Create connector").click()
    c.heading("shop")

    # Its events count up while the database changes.
    events = page.locator("#events")
    first = wait_until("the first events", lambda: number(events.inner_text()) or None)
    wait_until("more events", lambda: number(events.inner_text()) > first)
    c.shot("connector")
    c.axe("the connector page")

    # Pause and resume.
    page.get_by_role("button", name="Pause").click()
    expect(page.locator("#live .badge").first).to_have_text("PAUSED")
    page.get_by_role("button", name="Resume").click()
    expect(page.locator("#live .badge").first).to_have_text("RUNNING")

    # The checks, as runnel check runs them.
    page.get_by_role("button", name="Run checks").click()
    expect(page.locator("#check-result")).to_contain_text("user", timeout=TIMEOUT_MS)

    # Stopped, its slot keeps WAL while the database changes, and the page shows it growing.
    page.get_by_role("button", name="Stop").click()
    expect(page.locator("#live .badge").first).to_have_text("STOPPED")
    retained = page.locator("#slot-retained")
    start = wait_until("a retained WAL figure", lambda: (v := bytes_value(retained.inner_text())) >= 0 and v or None)
    wait_until("the retained WAL to grow", lambda: bytes_value(retained.inner_text()) > start, 90)
    # Stopped: the offsets can be edited.
    expect(page.get_by_label(re.compile("^Offsets"))).to_be_visible()
    c.shot("connector-stopped")
    page.get_by_role("button", name="Resume").click()
    expect(page.locator("#live .badge").first).to_have_text("RUNNING")

    # The failing connector: its trace.
    c.go("#/connectors/broken")
    c.heading("broken")
    expect(page.locator("#trace")).to_contain_text("missing_pub", timeout=TIMEOUT_MS)
    c.shot("connector-failed")

    # The overview: live, filterable, sortable.
    c.go("#/")
    c.heading("Connectors")
    row = page.locator("tbody tr[data-name='shop']")
    cell = row.locator("td[data-col='events']")
    before = number(cell.inner_text())
    wait_until("the overview to update by itself", lambda: number(cell.inner_text()) > before)
    page.get_by_label("Filter by name or class").fill("brok")
    expect(page.locator("tbody tr")).to_have_count(1)
    page.get_by_label("Filter by name or class").fill("")
    page.get_by_role("button", name="Events", exact=True).click()
    expect(page.locator("th[data-key='events']")).to_have_attribute("aria-sort", "descending")
    c.shot("overview")
    c.axe("the overview")

    # Databases: the server, its slots, the checks.
    page.get_by_role("link", name="Databases").click()
    c.heading("Databases")
    expect(page.locator("main table").first).to_contain_text("console_shop")
    # Every slot of the server, the forgotten one flagged.
    forgotten = page.locator("main tr", has=page.get_by_text("forgotten", exact=True))
    expect(forgotten).to_contain_text("if nothing will read it, drop it")
    page.get_by_role("button", name="Check shop").click()
    expect(page.locator("[data-check-out='shop']")).to_contain_text("Ready", timeout=TIMEOUT_MS)
    c.shot("databases")
    c.axe("the databases page")

    page.get_by_role("link", name="Topics").click()
    c.heading("Topics")
    expect(page.locator("main table")).to_contain_text("shop.public.customers")
    c.axe("the topics page")

    # Delete, with confirmation: cancel first, then confirm.
    c.go("#/connectors/broken")
    c.heading("broken")
    page.get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    c.shot("delete-confirmation")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    page.get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    c.heading("Connectors")
    expect(page.locator("tbody tr[data-name='broken']")).to_have_count(0)


def phase_topics(c):
    page = c.page
    c.go("#/topics")
    c.sign_in()
    c.heading("Topics")
    link = page.get_by_role("link", name="shop.public.customers")
    expect(link).to_be_visible()
    # The topic's row: partitions, message count, the connector that writes it.
    row = page.locator("#topics tbody tr", has=link)
    expect(row).to_contain_text("shop")
    c.shot("topics")
    c.axe("the topics page")
    link.click()
    c.heading("shop.public.customers")
    # Newest first: the update of customer 7 is the newest message.
    first = page.locator("#messages tbody tr").first
    expect(first).to_contain_text('"id":7')
    expect(first).to_contain_text("renamed")
    # Search by key.
    page.get_by_label("Key contains").fill('"id":12}')
    page.get_by_role("button", name="Read messages").click()
    expect(page.locator("#b-count")).to_have_text("1 messages, newest first.")
    expect(page.locator("#messages tbody tr")).to_have_count(1)
    # From an offset (in every partition), oldest first.
    page.get_by_label("Key contains").fill("")
    page.get_by_label(re.compile("^From offset")).fill("0")
    page.get_by_label("At most").select_option("20")
    page.get_by_role("button", name="Read messages").click()
    expect(page.locator("#messages tbody tr")).to_have_count(20)
    expect(page.locator("#messages tbody tr").first.locator("td").nth(1)).to_have_text("0")
    # A message's value as pretty JSON.
    page.locator("#messages tbody tr").first.locator("summary").click()
    expect(page.locator("#messages tbody tr").first.locator("pre")).to_contain_text('"op": "r"')
    c.shot("topic-messages")
    c.axe("the message browser")


def phase_readonly(c):
    page = c.page
    c.go("#/")
    c.sign_in()
    c.heading("Connectors")
    expect(page.locator("#worker")).to_contain_text("read-only")
    expect(page.get_by_role("link", name="New connector")).to_be_hidden()
    c.go("#/connectors/shop")
    c.heading("shop")
    for name in ("Pause", "Resume", "Stop", "Restart", "Delete"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
    expect(page.get_by_label(re.compile("^Offsets"))).to_have_count(0)
    c.shot("connector-read-only")


def phase_auth(c):
    page = c.page
    c.go("#/connectors/shop")
    c.heading("Sign in")
    page.get_by_label("Token").fill("not-the-token")
    page.get_by_role("button", name="Sign in").click()
    c.heading("Sign in")
    expect(page.locator("main")).not_to_contain_text("console_shop")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--phase", required=True, choices=["main", "readonly", "auth", "topics"])
    ap.add_argument("--shots", required=True)
    ap.add_argument("--pg-port", type=int, default=0)
    ap.add_argument("--pg-user", default="postgres")
    ap.add_argument("--axe", default=os.environ.get("RUNNEL_AXE_JS"))
    args = ap.parse_args()
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium_path(),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            # bypass_csp: only so that the test can add axe-core to the page.
            context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            console = Console(page, args)
            try:
                {"main": phase_main, "readonly": phase_readonly, "auth": phase_auth, "topics": phase_topics}[args.phase](console)
            except Exception:
                console.shot(f"failure-{args.phase}")
                print(f"page at failure: {page.url}\n{page.locator('body').inner_text()[:3000]}", file=sys.stderr)
                raise
            assert not errors, f"script errors on the page: {errors}"
        finally:
            browser.close()


if __name__ == "__main__":
    main()
