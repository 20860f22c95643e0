"""The ``yibao`` command (Typer + Rich). Heavy modules are imported inside commands so
that ``yibao settle`` starts fast."""
