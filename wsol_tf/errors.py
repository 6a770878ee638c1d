"""One-line error messages: TensorFlow's op errors without their internal names.

Used by the commands (`wsol_tf.cli`) and wherever a decode error is reported to a user
(`wsol_tf.data.decode`, `wsol_tf.deployment.localizer`). No TensorFlow import.
"""

import re

_TF_NOISE = (
    re.compile(r"\{\{function_node [^}]*\}\}\s*"),
    re.compile(r"\s*\[\[\{\{node [^}]*\}\}\]\]"),
    re.compile(r"\s*\[Op:[^\]]*\]"),
    re.compile(r"\s*name:\s*$"),
)

# A failed `tf.debugging.Assert` whose data is the reason: keep the reason only.
_ASSERT_EAGER = re.compile(r"Expected '.*?' to be true\. Summarized data: b?'(.*)'\s*$", re.S)
_ASSERT_GRAPH = re.compile(r"assertion failed: \[b?'?(.*?)'?\]\s*$", re.S)


def clean_message(text, limit=1000) -> str:
    """One line of an error text, without TensorFlow's op and function names."""
    text = str(text)
    for pattern in _TF_NOISE:
        text = pattern.sub("", text)
    for pattern in (_ASSERT_EAGER, _ASSERT_GRAPH):
        text = pattern.sub(r"\1", text)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    text = " ".join(lines)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def error_text(error) -> str:
    """The cleaned one-line text of an exception (TensorFlow's `message`, else str)."""
    text = getattr(error, "message", None) or str(error)
    return clean_message(text) if text else type(error).__name__


# Errors found while a command's modules were imported (a module of WSOL_TF_METHOD_MODULES
# that cannot be loaded): raised there, they would be a traceback before `wsol_tf.cli.run`
# could answer; kept here, `cli.run` reports them in one line before the flags are parsed.
_AT_START: list[Exception] = []


def report_at_start(error):
    """Keeps `error` for `wsol_tf.cli.run` to report (one line, exit status 2)."""
    _AT_START.append(error)


def errors_at_start() -> tuple[Exception, ...]:
    """The errors kept by `report_at_start`, first found first."""
    return tuple(_AT_START)
