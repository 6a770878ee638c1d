"""`--cam` and its options, for the commands that compute score maps (`evaluate`,
`localize`, `export`): generated from `wsol_tf.evaluation.extractors.CamSpec`, so an option
is written once, in that dataclass. Only the commands call these and read flags."""

from absl import flags

from wsol_tf.evaluation import extractors


def define_cam_flags(flag_values=flags.FLAGS):
    """One flag per `CamSpec` field (`--cam`, `--cam_layers`, `--cam_smooth`, ...)."""
    for flag, field in extractors.CamSpec.flag_fields():
        help_text = field.metadata["help"]
        default = field.default
        if flag == "cam":
            choices = list(extractors.names())
            flags.DEFINE_enum(flag, default, choices, help_text, flag_values=flag_values)
        elif flag == "cam_smooth":
            choices = list(extractors.SMOOTHING)
            flags.DEFINE_enum(flag, default, choices, help_text, flag_values=flag_values)
        elif isinstance(default, tuple):
            value = [str(v) for v in default] if default else None
            flags.DEFINE_list(flag, value, help_text, flag_values=flag_values)
        elif isinstance(default, int):
            flags.DEFINE_integer(flag, default, help_text, flag_values=flag_values)
        else:
            flags.DEFINE_string(flag, default, help_text, flag_values=flag_values)


def cam_from_flags(flag_values=flags.FLAGS):
    """The validated `CamSpec` the flags describe (ValueError naming the flag at fault)."""
    values = {flag: flag_values[flag].value for flag, _ in extractors.CamSpec.flag_fields()}
    return extractors.CamSpec.from_flags(values)
