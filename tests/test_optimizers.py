"""The recipe knobs of issue 27: --optimizer (sgd, adam, adamw), --lr_groups with any factor,
--freeze_through; and that runs made before these fields existed keep their identity."""

import numpy as np
import pytest

from wsol_tf.runs.config import TrainConfig, lr_group_factors


@pytest.mark.parametrize(
    "rule, factors",
    [("none", (1.0, 1.0)), ("new_10", (1.0, 10.0)), ("pretrained_0.1", (0.1, 1.0)),
     ("new_30", (1.0, 30.0)), ("new_2.5", (1.0, 2.5))],
)  # fmt: skip
def test_lr_group_rules_parse_to_their_factors(rule, factors):
    assert lr_group_factors(rule) == factors


@pytest.mark.parametrize("rule", ["new_", "new_x", "new_0", "new_-1", "pretrained_inf",
                                  "head_10", "new10", ""])  # fmt: skip
def test_an_unparsable_lr_group_rule_is_refused_naming_the_flag(rule):
    with pytest.raises(ValueError, match="--lr_groups"):
        TrainConfig(lr_groups=rule).validate()


def test_freeze_through_must_be_a_position_of_the_backbone():
    TrainConfig(model="tinyvgg", freeze_through="block2_pool").validate()
    with pytest.raises(ValueError, match=r"--freeze_through=block9_pool.*valid: .*block2_pool"):
        TrainConfig(model="tinyvgg", freeze_through="block9_pool").validate()


def test_optimizer_is_refused_outside_its_choices():
    with pytest.raises(ValueError, match="--optimizer=rmsprop: valid: sgd, adam, adamw"):
        TrainConfig(optimizer="rmsprop").validate()


def test_adamw_decays_in_the_optimizer_never_in_the_loss():
    assert TrainConfig().l2_in_loss
    assert not TrainConfig(weight_decay_mode="decoupled").l2_in_loss
    assert not TrainConfig(optimizer="adamw").l2_in_loss
    assert TrainConfig(optimizer="adam").l2_in_loss


def test_grouped_adam_steps_each_variable_as_adam_at_its_factor_times_the_rate():
    """Reference: plain Adam at lr * factor on each variable alone (same float ops)."""
    import keras

    from wsol_tf.training.build import GroupedAdam, gradient_multipliers

    rng = np.random.default_rng(0)
    start = [rng.normal(size=(3, 2)).astype("float32"), rng.normal(size=(5,)).astype("float32")]
    grads = [[rng.normal(size=v.shape).astype("float32") for v in start] for _ in range(3)]
    factors = [1.0, 10.0]
    variables = [keras.Variable(v) for v in start]
    grouped = GroupedAdam(learning_rate=1e-3)
    grouped.build(variables)
    assert gradient_multipliers(grouped, factors) == [1.0, 1.0]
    for step in grads:
        grouped.apply_gradients(zip(step, variables, strict=True))
    for i, factor in enumerate(factors):
        alone = keras.Variable(start[i])
        adam = keras.optimizers.Adam(learning_rate=1e-3 * factor)
        for step in grads:
            adam.apply_gradients([(step[i], alone)])
        np.testing.assert_allclose(variables[i].numpy(), alone.numpy(), rtol=1e-6, atol=1e-7)
    # The factor matters: the second variable moved ~10x as far (Adam's first step ~ lr).
    moved = [np.abs(v.numpy() - s).mean() for v, s in zip(variables, start, strict=True)]
    assert 5.0 < moved[1] / moved[0] < 20.0


def test_sgd_keeps_the_groups_on_its_gradients():
    import keras

    from wsol_tf.training.build import gradient_multipliers

    assert gradient_multipliers(keras.optimizers.SGD(0.1), [1.0, 10.0]) == [1.0, 10.0]


def test_freeze_through_freezes_exactly_the_layers_up_to_the_position():
    import keras

    from wsol_tf.training.build import build_model

    config = TrainConfig(model="tinyvgg", image_size=(40, 56), freeze_through="block2_pool",
                         method="cam")  # fmt: skip
    model = build_model(config, num_classes=3)
    upstream = keras.Model(model.backbone.input, model.backbone.get_layer("block2_pool").output)
    frozen = {layer.name for layer in upstream.layers}
    assert {"block1_conv1", "block2_pool"} <= frozen
    for layer in model.backbone.layers:
        assert layer.trainable == (layer.name not in frozen), layer.name
    trainable = {id(v) for v in model.trainable_variables}
    for layer in model.backbone.layers:
        for variable in layer.weights:
            assert (id(variable) in trainable) == (layer.name not in frozen and
                                                   variable.trainable)  # fmt: skip
    assert any(id(v) in trainable for v in model.backbone.get_layer("block3_conv1_conv").weights)


def test_a_default_config_keeps_the_identity_it_had_before_the_new_fields():
    from wsol_tf.reproduction.runner import identity

    settings = identity(TrainConfig())["config"]
    assert "optimizer" not in settings and "freeze_through" not in settings
    changed = identity(TrainConfig(optimizer="adam", freeze_through="block2_pool"))["config"]
    assert changed["optimizer"] == "adam" and changed["freeze_through"] == "block2_pool"


def test_adam_and_freeze_through_train_end_to_end(tiny_data, tmp_path):
    """Two steps with Adam, new layers at 10x, the first blocks frozen: the frozen kernels
    are the initial ones, the others moved, and the run resumes with the same optimizer."""
    import keras

    from wsol_tf.training import api
    from wsol_tf.training.build import build_model

    config = TrainConfig(model="tinyvgg", method="cam", dataset="cub", data_dir=tiny_data,
                         image_size=(40, 56), batch_size=6, epochs=1, steps_per_epoch=2,
                         optimizer="adam", lr=1e-3, lr_groups="new_10",
                         freeze_through="block2_pool", workdir=str(tmp_path / "run"),
                         tensorboard=False, log_every=1)  # fmt: skip
    keras.utils.set_random_seed(config.seed)
    initial = build_model(config, num_classes=3)
    api.train(config, print_fn=lambda *a: None)
    from wsol_tf.runs.checkpoints import load_model

    trained = load_model(config.workdir)[0]
    for name in ("block1_conv1_conv", "block2_conv2_conv"):
        np.testing.assert_array_equal(
            trained.get_layer(name).kernel.numpy(), initial.get_layer(name).kernel.numpy()
        )
    moved = (
        trained.get_layer("block3_conv1_conv").kernel.numpy()
        - initial.get_layer("block3_conv1_conv").kernel.numpy()
    )
    assert np.abs(moved).max() > 0
