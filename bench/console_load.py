"""The console's overview with many connectors, in Debian's headless Chromium: the time from
navigation to a table with every connector (median of several loads), the overview JSON's size,
and the time the page takes to apply one live update. Usage: console_load.py BASE N"""

import shutil
import statistics
import sys
import time

from playwright.sync_api import sync_playwright

base, n = sys.argv[1].rstrip("/"), int(sys.argv[2])
with sync_playwright() as p:
    browser = p.chromium.launch(
        executable_path=shutil.which("chromium"),
        args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    )
    # bypass_csp: the page's policy forbids eval, which Playwright's wait_for_function uses.
    page = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True).new_page()
    loads = []
    for _ in range(7):
        page.goto("about:blank")
        t0 = time.perf_counter()
        page.goto(f"{base}/ui/#/")
        page.wait_for_function(f"document.querySelectorAll('#connectors tbody tr').length >= {n}", timeout=60_000)
        loads.append((time.perf_counter() - t0) * 1000)
    size = page.evaluate("fetch('/ui/api/overview').then(r => r.text()).then(t => t.length)")
    # The worker's side: one overview answered (median of 20).
    api_ms = page.evaluate(
        """async () => {
            const times = [];
            for (let i = 0; i < 20; i++) {
                const t = performance.now();
                await (await fetch('/ui/api/overview')).text();
                times.push(performance.now() - t);
            }
            times.sort((a, b) => a - b);
            return times[10];
        }"""
    )
    # One live update: the next server-sent overview re-rendered (the page marks each render).
    update_ms = page.evaluate(
        """() => new Promise((resolve) => {
            const body = document.querySelector('#connectors tbody');
            const start = performance.now();
            new MutationObserver((_, o) => { o.disconnect(); resolve(performance.now() - start); })
              .observe(body, {childList: true});
        })"""
    )
    browser.close()
print(f"overview of {n} connectors: load to full table median {statistics.median(loads):.0f} ms "
      f"(min {min(loads):.0f}, max {max(loads):.0f}, {len(loads)} loads); overview JSON {size / 1024:.0f} KiB "
      f"answered in {api_ms:.0f} ms (median of 20); "
      f"next live update arrived {update_ms:.0f} ms later")
