"""The ``zkagg`` command line (typer), installed as ``zkagg.cli``.

``app.py`` only registers commands; each command group lives in its own module and imports heavy
dependencies (ezkl, torch) inside the command so that ``zkagg --help`` stays fast.
"""
