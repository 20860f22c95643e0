"""``python -m yibao`` and the ``yibao`` command."""

from __future__ import annotations


def main() -> None:
    from yibao.adapters.cli.app import run

    run()


if __name__ == "__main__":
    main()
