"""`--cam` and its options, for the commands that compute score maps (`evaluate`,
`localize`, `export`): generated from `wsol_tf.evaluation.extractors.CamSpec`, so an option
is written once, in that dataclass. Only the commands call these and read flags."""

from absl import flags

from wsol_tf.evaluation import extractors
from wsol_tf.evaluation.metrics import MIN_CAM_CURVE_INTERVAL

AUTO = "auto"


def define_cam_flags(flag_values=flags.FLAGS, with_auto=False):
    """One flag per `CamSpec` field (`--cam`, `--cam_layers`, `--cam_smooth`, ...);
    `with_auto`: `--cam=auto` (the read-out chosen on validation, `evaluation.readout`)."""
    for flag, field in extractors.CamSpec.flag_fields():
        help_text = field.metadata["help"]
        default = field.default
        if flag == "cam":
            choices = list(extractors.names())
            if with_auto:
                choices.append(AUTO)
                help_text += (
                    " auto: the read-out (extractor and threshold) chosen on the run's "
                    "validation split for this checkpoint, chosen now when missing. Default: "
                    "the run's choice when it has one, else classic."
                )
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


def cam_request_from_flags(flag_values=flags.FLAGS):
    """(CamSpec, how) for `evaluation.readout.resolve`: how is "auto" (`--cam=auto`),
    "given" (`--cam` or one of its options passed) or "default" (none passed)."""
    if flag_values["cam"].value == AUTO:
        others = [f for f, _ in extractors.CamSpec.flag_fields()
                  if f != "cam" and flag_values[f].present]  # fmt: skip
        if others:
            raise ValueError(
                f"--{others[0]} with --cam=auto: the read-out is chosen among fixed candidates; "
                "give a named --cam to set its options."
            )
        return extractors.CamSpec(), AUTO
    given = any(flag_values[f].present for f, _ in extractors.CamSpec.flag_fields())
    return cam_from_flags(flag_values), "given" if given else "default"


def check_options(threshold=0.2, cam_curve_interval=0.001, batch_size=32, num_pictures=8,
                  workers=None):  # fmt: skip
    """ValueError naming the flag and value of an evaluation option out of range: checked by
    `evaluate` before any file is read, and by `sweep` (--evaluate_args) before any training."""
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"--threshold={threshold} must be in [0, 1).")
    if not MIN_CAM_CURVE_INTERVAL <= cam_curve_interval < 1.0:
        raise ValueError(
            f"--cam_curve_interval={cam_curve_interval} must be in [{MIN_CAM_CURVE_INTERVAL:g}, 1) "
            f"(the fine grid np.arange(0, 1, step) has at most {round(1 / MIN_CAM_CURVE_INTERVAL)} "
            "thresholds)."
        )
    if workers is not None and workers < 1:
        raise ValueError(f"--workers={workers} must be >= 1.")
    if batch_size < 1:
        raise ValueError(f"--batch_size={batch_size} must be >= 1.")
    if num_pictures < 0:
        raise ValueError(f"--num_pictures={num_pictures} must be >= 0.")
