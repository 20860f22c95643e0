"""Screenshots of each console page (docs/console/*.png, 1366x900) from a running
``yibao serve`` on a demo database with the demo users (``yibao demo serve`` prints
them). Debian's chromium, not Playwright's own browsers.

    python bench/screenshots.py --base http://127.0.0.1:8000 [--out docs/console]
"""

from __future__ import annotations

import argparse
import re
import tempfile
from collections.abc import Callable
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
            ("drugs", "/console/drugs"),  # 药品监测 (issue 21: `yibao drugs demo` first)
            ("drug_signals", "/console/drugs/signals"),
            ("drug_filings", "/console/drugs/filings"),
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
        page.goto(f"{base}/console/drugs/signals?kind=price")
        signal = page.locator("#signal-table a").first
        if signal.count():
            signal.click()
            page.wait_for_load_state()
            shots.append(out / "drug_signal.png")
            page.screenshot(path=shots[-1], full_page=True)
        page.click("#logout")
        shots += supervision(page, base, out)
        page.click("#logout")
        shots += funds_pages(page, base, lambda login: sign_in(page, base, login), out)
        page.click("#logout")
        sign_in(page, base, "demo-admin")
        page.goto(f"{base}/console/admin")
        shots.append(out / "admin.png")
        page.screenshot(path=shots[-1])
        browser.close()
    return shots


# -- 手工报销 (issue 19): the claim pages, driven from the counter to the bank -------------

CLAIM_FEES = (
    "序号,项目编码,项目名称,费用日期,单价,数量\n"
    "1,001204000010000,静脉输液,2020-02-02,15,3\n"
    "2,XJ05AXA159A001010101445,干扰素,2020-02-03,120.00,1\n"
    "3,WH-LOCAL-77,院内制剂,2020-02-04,250.005,1\n"
)


def claim_flow(
    page: Page,
    base: str,
    sign: Callable[[str], None],
    psn_no: str,
    work: Path,
    out: Path | None = None,
    logins: tuple[str, str, str, str] = (
        "demo-township-clerk", "demo-district-clerk", "demo-district-clerk-2", "demo-finance"),
) -> str:  # fmt: skip
    """One claim through the console: intake by the township (a Wuhan hospital outside
    the registry, Hubei's catalog), 移交, 初审 with the unknown line classified, 复核,
    结算 and 审批 by another district clerk, a payment batch, the bank's return file.
    ``sign(login)`` signs in; each claims page is shot into ``out`` when given. The
    claim's id."""
    town, first, second, finance = logins

    def shot(name: str) -> None:
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=out / f"{name}.png", full_page=True)

    fees = work / "fees.csv"
    fees.write_text(CLAIM_FEES, encoding="utf-8")
    sign(town)
    page.click("nav a[href='/console/claims']")
    page.click("#new-claim")
    for name, value in (("psn_no", psn_no), ("provider_code", "H42010600001"),
                        ("provider_name", "武汉市某定点医院"), ("provider_region", "420106"),
                        ("admit_date", "2020-02-01"), ("discharge_date", "2020-02-10"),
                        ("diagnoses", "B99.900"), ("invoice_code", "4201"),
                        ("invoice_number", "00000001"), ("invoice_date", "2020-02-10"),
                        ("invoice_amount", "415.01"), ("payee_name", "张三丰"),
                        ("payee_bank", "工商银行涪陵支行"),
                        ("payee_account", "6222020200112233445")):  # fmt: skip
        page.fill(f"input[name={name}]", value)
    page.select_option("select[name=provider_level]", "3")
    page.select_option("select[name=covid_status]", "confirmed")
    page.set_input_files("input[name=fee_list]", str(fees))
    shot("claim_intake")
    page.click("#intake-submit")
    page.wait_for_selector("#claim-status")
    claim_id = page.url.rstrip("/").rsplit("/", 1)[1]
    page.click("#act-forward")
    page.wait_for_selector("#claim-status:has-text('已移交')")
    page.click("#logout")
    sign(first)
    page.goto(f"{base}/console/claims/{claim_id}")
    page.click("#classify-3")
    page.wait_for_selector("#line-3:has-text('归类为')")
    page.fill("#claim-actions input[name=note]", "材料齐全，院内制剂按自费")
    page.click("#act-first-review")
    page.wait_for_selector("#claim-status:has-text('已初审')")
    shot("claim_review")
    page.click("#logout")
    sign(second)
    page.goto(f"{base}/console/claims/{claim_id}")
    page.click("#act-second-review")
    page.wait_for_selector("#claim-status:has-text('已复核')")
    page.click("#act-settle")
    page.wait_for_selector("#claim-status:has-text('已结算')")
    shot("claim_second_review")
    page.click("#act-approve")
    page.wait_for_selector("#claim-status:has-text('已审批')")
    page.click("#logout")
    sign(finance)
    page.click("nav a[href='/console/claim-batches']")
    page.click("#make-batch")
    page.wait_for_selector("#batch-lines")
    payable = page.inner_text("#batch-lines tbody tr td:nth-child(3)").strip()
    ret = work / "return.csv"
    amount = payable.replace(",", "")
    ret.write_text("序号,报销单号,金额（元）,结果,银行流水号,失败原因\n"
                   f"1,{claim_id},{amount},成功,B0001,\n", encoding="utf-8")  # fmt: skip
    page.set_input_files("#return-form input[name=file]", str(ret))
    page.click("#return-submit")
    page.wait_for_selector("#count-paid:has-text('1')")
    shot("claim_batch")
    page.goto(f"{base}/console/claims/{claim_id}/statement")
    shot("claim_statement")
    return claim_id


def supervision(page: Page, base: str, out: Path) -> list[Path]:
    """基金监管 as the demo supervisor: the queue, the first flag of a stay (its evidence,
    the stay's trace, the review forms), the first hospital's profile (flags raised by
    ``yibao supervision scan`` on the demo database)."""
    shots = []
    sign_in(page, base, "demo-supervisor")
    page.goto(f"{base}/console/supervision?state=all")
    shots.append(out / "supervision.png")
    page.screenshot(path=shots[-1])
    stay_flag = page.locator("#rows tr:has(span.mono) a[href*='/supervision/flags/']").first
    if stay_flag.count():
        stay_flag.click()
        page.wait_for_load_state()
        shots.append(out / "supervision-flag.png")
        page.screenshot(path=shots[-1], full_page=True)
    page.goto(f"{base}/console/supervision?state=all")
    hospital = page.locator("#rows a[href*='/supervision/hospitals/']").first
    if hospital.count():
        hospital.click()
        page.wait_for_load_state()
        shots.append(out / "supervision-hospital.png")
        page.screenshot(path=shots[-1])
    return shots


def funds_pages(page: Page, base: str, sign: Callable[[str], None], out: Path,
                login: str = "demo-finance") -> list[Path]:  # fmt: skip
    """资金管理 (issue 20) as finance: prepayments, the first prepayment (its baseline and
    steps), February 2020's statements, the first statement and its printable page,
    subsidy claims with the central share, the trial balance (``yibao funds february``
    on the demo database fills them)."""
    out.mkdir(parents=True, exist_ok=True)
    shots = []

    def shot(name: str) -> None:
        shots.append(out / f"{name}.png")
        page.screenshot(path=shots[-1], full_page=True)

    sign(login)
    page.goto(f"{base}/console/funds/prepayments")
    shot("funds_prepayments")
    first = page.locator("#prepayments tbody a").first
    if first.count():
        first.click()
        page.wait_for_load_state()
        shot("funds_prepayment")
    page.goto(f"{base}/console/funds/statements?month=2020-02")
    shot("funds_statements")
    first = page.locator("#statements tbody a").first
    if first.count():
        first.click()
        page.wait_for_load_state()
        shot("funds_statement")
        page.click("#print")
        page.wait_for_load_state()
        shot("funds_statement_print")
    for name, path in (("funds_subsidy", "/console/funds/subsidy"),
                       ("funds_trial", "/console/funds/trial")):  # fmt: skip
        page.goto(base + path)
        shot(name)
    return shots


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--base", default="http://127.0.0.1:8000")
    ap.add_argument("--out", type=Path, default=Path("docs/console"))
    ap.add_argument("--date", default="2020-02-14", help="the 日报's date")
    ap.add_argument("--status", default="settled", help="the stays listed")
    ap.add_argument("--claim-insuree", default="", help="手工报销: drive one claim of "
                    "this insuree (needs demo-district-clerk-2) and shoot its pages")  # fmt: skip
    a = ap.parse_args()
    base = a.base.rstrip("/")
    for s in shoot(base, a.out, a.date, a.status):
        print(s)
    if a.claim_insuree:
        with sync_playwright() as p, tempfile.TemporaryDirectory() as tmp:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--lang=zh-CN"])
            page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="zh-CN",
                                    timezone_id="Asia/Shanghai")  # fmt: skip
            claim_flow(page, base, lambda login: sign_in(page, base, login), a.claim_insuree,
                       Path(tmp), a.out)  # fmt: skip
            browser.close()


if __name__ == "__main__":
    main()
