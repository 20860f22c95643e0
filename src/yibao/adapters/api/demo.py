"""The demo's curl sequence: admission → fee upload → settlement of a confirmed COVID-19
patient at a 定点救治医院 of the demo district, who pays 0 cash (渝医保发〔2020〕3号 二（一）).

``steps`` is the data; ``curl_text`` prints it for people and a test runs the same steps
through the API, so the printed example cannot rot.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["Step", "curl_text", "steps"]

ADMIT_TIME = "2020-02-10T09:00:00+08:00"
DISCHARGE_DATE = "2020-02-12"


@dataclass(frozen=True, slots=True)
class Step:
    method: str
    path: str  # may contain {encounter_id}
    body: dict[str, Any]
    about: str


def steps(insuree_id: str, codes: list[tuple[str, int, int]]) -> list[Step]:
    """The three calls; ``codes`` are (hospital code, price_e6, qty_e4): the unit price in
    millionths of a yuan and the quantity in ten-thousandths, the wire's pric and cnt."""
    lines = [
        {"sn": str(n), "code": c, "price_e6": p, "qty_e4": q, "service_time": ADMIT_TIME}
        for n, (c, p, q) in enumerate(codes, start=1)
    ]
    return [
        Step(
            "POST",
            "/v1/encounters",
            {
                "insuree_id": insuree_id,
                "admit_time": ADMIT_TIME,
                "diagnoses": [{"code": "B99.900", "main": True}],
            },
            "入院办理 (2401): a confirmed COVID-19 patient (main diagnosis B99.900)",
        ),
        Step(
            "POST",
            "/v1/encounters/{encounter_id}/fees",
            {"lines": lines},
            "费用明细上传 (2301): protocol drugs and tests, resolved through 对码",
        ),
        Step(
            "POST",
            "/v1/encounters/{encounter_id}/settlement",
            {"discharge_date": DISCHARGE_DATE},
            "结算 (2304) at discharge: psn_cash_pay is 0 (一站式结算)",
        ),
    ]


def curl_text(base: str, key: str, plan: list[Step]) -> str:
    """The steps as a shell session (bash; python3 reads the encounter id). Each answer
    shown is the API's JSON as sent (UTF-8, Chinese readable) and ends with a newline
    (``-w '\\n'``), so the next prompt or answer starts on a line of its own."""
    out = [f"KEY={key}"]
    for n, st in enumerate(plan):
        path = st.path.replace("{encounter_id}", "$EID")
        body = json.dumps(st.body, ensure_ascii=False)
        call = (
            f'curl -s -X {st.method} {base}{path} -H "Authorization: Bearer $KEY" '
            f"-H 'Content-Type: application/json' -d '{body}'"
        )
        out.append(f"# {st.about}")
        if n == 0:
            out.append(
                f"EID=$({call} | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"id\"])')"
            )
            out.append('echo "encounter $EID"')
        else:
            out.append(f"{call} -w '\\n'")
    return "\n".join(out)
