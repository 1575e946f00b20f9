"""``python -m service``: see :mod:`service.cli`."""

from service.cli import main

main()
