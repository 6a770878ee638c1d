"""What the commands share: bad input is answered with one line and exit status 2.

`run(main)` replaces `absl.app.run(main)`: a flag that does not parse, and any exception
that reaches `main`'s caller (a missing file, a malformed annotation, a workdir holding
another run, an unwritable output, a diverged loss, ...), print `error: <one line>` on
stderr and exit with status 2 instead of a traceback (a stray argument, `app.UsageError`,
too, instead of absl's whole help and status 1). TensorFlow's op errors lose their
internal names (`{{function_node ...}}`, `[Op:DecodeImage]`). An exception of a type that
bad input is not expected to raise also gets one line, naming its type; set
WSOL_TF_TRACEBACK=1 to see its traceback. `--help` (and absl's other help flags) exit 0.
"""

import os
import re
import sys

from absl import app, flags

from wsol_tf.errors import clean_message, error_text, errors_at_start

TRACEBACK_VARIABLE = "WSOL_TF_TRACEBACK"
# What bad input raises (names, so TensorFlow need not be imported to check).
EXPECTED = (ValueError, OSError, EOFError, FloatingPointError, KeyboardInterrupt)
EXPECTED_NAMES = ("PretrainedWeightsUnavailable", "OpError")


def one_line(error) -> str:
    """The one-line message for an exception (its type named when it is unexpected)."""
    message = error_text(error)
    names = {cls.__name__ for cls in type(error).__mro__}
    if isinstance(error, EXPECTED) or names & set(EXPECTED_NAMES):
        return message
    return (
        f"unexpected {type(error).__name__}: {message} (set {TRACEBACK_VARIABLE}=1 to see the "
        "traceback)"
    )


def guarded(main):
    """`main` returning 2 with `error: <one line>` on stderr instead of raising."""

    def wrapped(argv):
        try:
            return main(argv)
        except SystemExit:
            raise
        except app.UsageError as error:  # a stray argument: absl would print all the help, exit 1
            print(f"error: {error_text(error)} (--helpshort lists the flags)", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("error: interrupted", file=sys.stderr)
            return 130
        except Exception as error:  # noqa: BLE001 - the point: no traceback for bad input
            if os.environ.get(TRACEBACK_VARIABLE):
                raise
            print(f"error: {one_line(error)}", file=sys.stderr)
            return 2

    return wrapped


_ENUM_ERROR = re.compile(
    r"^flag --(?P<name>[\w.-]+)=(?P<value>.*): value should be one of <(?P<valid>.*)>$"
)


def flag_error(error) -> str:
    """absl's flag error as one line (an enum's choices listed as TrainConfig lists them)."""
    text = clean_message(error)
    match = _ENUM_ERROR.match(text)
    if match:
        valid = ", ".join(match["valid"].split("|"))
        return f"--{match['name']}={match['value']}: valid: {valid}."
    return f"{text} (--helpshort lists the flags)"


# absl's help flags: each prints its text while the flags are parsed, then exits with status 1.
HELP_FLAGS = frozenset(["help", "?", "helpshort", "helpfull", "helpxml"])


def asks_for_help(args) -> bool:
    """True when `args` (the command line after the program) hold a help flag before `--`."""
    for arg in args:
        if arg == "--":
            return False
        if arg.startswith("-") and arg.lstrip("-").split("=", 1)[0] in HELP_FLAGS:
            return True
    return False


def report_errors_at_start(argv):
    """Errors found while the command's modules were imported (`errors.report_at_start`: a
    module of WSOL_TF_METHOD_MODULES that cannot be loaded): one line and exit status 2, or,
    when help is asked for, a warning line above it."""
    # Every command trains or reads a method's run: load the extra method modules now, so a
    # broken one is named before the flags are parsed (no TensorFlow: methods import it lazily).
    import wsol_tf.methods  # noqa: F401

    found = errors_at_start()
    if not found:
        return
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    if asks_for_help(argv[1:]):
        print(f"warning: {one_line(found[0])}{more}", file=sys.stderr)
        return
    print(f"error: {one_line(found[0])}{more}", file=sys.stderr)
    sys.exit(2)


def parse_flags(argv):
    """absl's flag parsing with a one-line error and exit status 2; a help request exits 0
    (absl exits 1 after printing it, which a script reads as a failure)."""
    report_errors_at_start(argv)
    try:
        return flags.FLAGS(argv)
    except flags.Error as error:
        print(f"error: {flag_error(error)}", file=sys.stderr)
        sys.exit(2)
    except SystemExit as exit_request:
        if exit_request.code == 1 and asks_for_help(argv[1:]):
            sys.stdout.flush()
            sys.exit(0)
        raise


def run(main):
    """`absl.app.run(main)` with one-line errors and exit status 2 for bad input."""
    app.run(guarded(main), flags_parser=parse_flags)
