"""The core's messages name the Python API's arguments; on the command line, name the flags
(used by the CLI and by ``edgerun bench`` for the reasons it prints)."""

from __future__ import annotations

CLI_WORDS = (
    ("accelerator='edgetpu'", "--accelerator edgetpu"),
    ("accelerator='gpu'", "--accelerator gpu"),
    ("accelerator='cpu'", "--accelerator cpu"),
    ('accelerator="edgetpu"', "--accelerator edgetpu"),
    ("accelerator_options", "--device"),
    ("delegates=[Delegate(path, options)]", "--delegate LIB[:KEY=VALUE,...]"),
)


def for_cli(message: str) -> str:
    for api, flag in CLI_WORDS:
        message = message.replace(api, flag)
    return message
