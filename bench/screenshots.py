"""Screenshots of each console page (docs/console/*.png, 1366x900) from a running
``yibao serve`` on a demo database with the demo users (``yibao demo serve`` prints
them). Debian's chromium, not Playwright's own browsers.

    python bench/screenshots.py --base http://127.0.0.1:8000 [--out docs/console]
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

PASSWORD = "yibao-demo-2020"
CHROMIUM = "/usr/bin/chromium"


def sign_in(page: Page, base: str, login: str) -> None:
    page.goto(f"{base}/console/login")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/today.*"))


def shoot(base: str, out: Path, day: str, stay_status: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    shots = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--lang=zh-CN"])
        page = browser.new_page(
            viewport={"width": 1366, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai"
        )
        page.goto(f"{base}/console/login")
        shots.append(out / "login.png")
        page.screenshot(path=shots[-1])
        sign_in(page, base, "demo-district-clerk")
        pages = [
            ("today", f"/console/today?date={day}"),
            ("stays", f"/console/stays?status={stay_status}"),
            ("deferred", "/console/deferred"),
            ("registry", "/console/registry?code=H50010200001"),
        ]
        for name, path in pages:
            page.goto(base + path)
            shots.append(out / f"{name}.png")
            page.screenshot(path=shots[-1])
        page.goto(f"{base}/console/stays?status={stay_status}")
        first = page.locator("#rows a").first
        if first.count():
            first.click()
            page.wait_for_load_state()
            shots.append(out / "stay.png")
            page.screenshot(path=shots[-1])
        page.click("#logout")
        sign_in(page, base, "demo-admin")
        page.goto(f"{base}/console/admin")
        shots.append(out / "admin.png")
        page.screenshot(path=shots[-1])
        browser.close()
    return shots


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--base", default="http://127.0.0.1:8000")
    ap.add_argument("--out", type=Path, default=Path("docs/console"))
    ap.add_argument("--date", default="2020-02-14", help="the 日报's date")
    ap.add_argument("--status", default="settled", help="the stays listed")
    a = ap.parse_args()
    for s in shoot(a.base.rstrip("/"), a.out, a.date, a.status):
        print(s)


if __name__ == "__main__":
    main()
