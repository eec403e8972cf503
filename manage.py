#!/usr/bin/env python
"""Django's command-line utility for Voltop: a command's changes are recorded in history as
made by "command <name>"."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "voltop.settings")
    from voltop.core.history import command_line_execute

    command_line_execute(sys.argv)


if __name__ == "__main__":
    main()
