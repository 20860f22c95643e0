"""``yibao batch settle`` and ``yibao bench gen``: whole tables of encounters.

Polars, NumPy and Dask are imported inside the commands, so ``yibao settle`` starts
without them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from yibao.adapters.cli.common import bad_input_exits, fail

if TYPE_CHECKING:
    from collections.abc import Sequence

    from yibao.core.policy import Policy
    from yibao.services.tools.batch.files import Summary

batch_app = typer.Typer(
    help="Settle whole tables of encounters (Parquet) in one vectorised pass.",
    no_args_is_help=True,
)
bench_app = typer.Typer(help="Benchmark data: synthetic encounter tables.", no_args_is_help=True)


@batch_app.command("settle")
def batch_settle(
    pack: Annotated[
        list[Path],
        typer.Option(
            "--pack",
            help="Policy pack YAML file or folder of packs (repeatable); each encounter's "
            "pack is chosen by its insured region and discharge date.",
        ),
    ],
    encounters: Annotated[
        Path, typer.Option("--encounters", help="Encounters table, E.parquet (one row each).")
    ],
    lines: Annotated[Path, typer.Option("--lines", help="Charge lines table, L.parquet.")],
    out: Annotated[
        Path, typer.Option("--out", help="Output table, OUT.parquet (sorted by encounter_id).")
    ],
    rejects: Annotated[
        Path | None,
        typer.Option(
            "--rejects",
            help="Write each rejected insuree-year here (Parquet, with reasons) and settle "
            "the rest. Without it, any invalid row stops the run and nothing is written.",
        ),
    ] = None,
    partitions: Annotated[
        int,
        typer.Option(
            "--partitions",
            help="Settle in N parts by a hash of insuree_id, each read with a filter: "
            "memory bounded by the largest part.",
        ),
    ] = 1,
    dask: Annotated[
        str | None,
        typer.Option(
            "--dask",
            metavar="ADDRESS",
            help="Run the parts on this Dask scheduler (e.g. tcp://host:8786); files must "
            "be reachable from every worker. Parts default to two per worker thread.",
        ),
    ] = None,
) -> None:
    """Settle the encounters of E.parquet with their lines of L.parquet into OUT.parquet.

    The result equals settling each encounter with `yibao settle` in (discharge_date,
    encounter_id) order within each insuree and calendar year, carrying accumulators and
    account balance (to the fen). Bad input: exit 2, one line on stderr, nothing written.
    """
    from yibao.packs.files import load_packs
    from yibao.services.tools.batch.files import settle_tables

    with bad_input_exits():
        packs = load_packs(pack)
        if dask is None:
            summary = settle_tables(
                packs, encounters, lines, out, rejects=rejects, partitions=partitions
            )
        else:
            summary = _on_dask(dask, packs, encounters, lines, out, rejects, partitions)
    sys.stdout.write(
        f"settled {summary.settled} encounters -> {out}"
        + (f"; rejected {summary.rejected} -> {rejects}" if rejects is not None else "")
        + "\n"
    )


def _on_dask(
    address: str,
    packs: Sequence[Policy],
    encounters: Path,
    lines: Path,
    out: Path,
    rejects: Path | None,
    partitions: int,
) -> Summary:
    from distributed import Client

    from yibao.services.tools.batch.files import settle_tables

    try:
        client = Client(address, timeout="10s")  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        fail(f"--dask: cannot reach the scheduler at {address}: {exc}")
    with client:
        if partitions == 1:
            threads = sum(client.nthreads().values())  # type: ignore[no-untyped-call]
            partitions = max(2, 2 * threads)
        return settle_tables(
            packs, encounters, lines, out, rejects=rejects, partitions=partitions, client=client
        )


@bench_app.command("gen")
def bench_gen(
    encounters: Annotated[int, typer.Option("--encounters", help="Number of encounters.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for E.parquet and L.parquet.")],
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same tables).")] = 1,
) -> None:
    """Write realistic synthetic E.parquet and L.parquet (the batch contract's schema).

    About 21 lines per encounter, class A/B/C 75/20/5 %, ~10 % confirmed COVID-19
    patients, out-of-area stays, transfers, assistance categories, starting accumulators
    and a few very expensive stays; dates in 2020, regions in the cq-2020 pack's area.
    """
    from yibao.services.tools.batch.synth import write_tables

    if encounters < 1:
        fail(f"--encounters: {encounters} must be at least 1")
    e_path, l_path = write_tables(encounters, seed, out)
    sys.stdout.write(f"wrote {e_path} and {l_path}\n")
