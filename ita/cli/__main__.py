"""``python -m ita.cli`` — the same as the ``ita`` console script."""
from ita.cli import main

main()
