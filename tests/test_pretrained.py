"""ImageNet initialization from local files: keras .h5, Tensorpack .npz, Keras cache, offline."""

import os
import time

import keras
import numpy as np
import pytest
from backbone_specs import replace_weights

from wsol_tf import models
from wsol_tf.models import pretrained

SIZE = (64, 96)  # non-square


def _randomize(model, seed):
    # Random kernels and BN statistics, so every transferred number matters.
    rng = np.random.default_rng(seed)
    for w in model.weights:
        value = rng.normal(0.0, 0.1, w.shape)
        if "variance" in w.path:
            value = rng.uniform(0.5, 1.5, w.shape)
        w.assign(value.astype(np.float32))


def _images(seed=0, n=2):
    return np.random.default_rng(seed).uniform(0, 255, (n, *SIZE, 3)).astype(np.float32)


def _submodel(model, layer):
    graph = getattr(model, "backbone", model)  # a WSOLModel's functional backbone
    return keras.Model(graph.input, graph.get_layer(layer).output)


KERAS_CASES = {
    # our name: (keras application, its preprocessing, last layer both graphs share)
    "vgg16gap": (keras.applications.VGG16, keras.applications.vgg16, "block5_conv3"),
    "resnet50": (keras.applications.ResNet50, keras.applications.resnet50, "conv4_block6_out"),
    "mobilenetv1": (keras.applications.MobileNet, keras.applications.mobilenet, "conv_pw_11_relu"),
}


@pytest.mark.parametrize("name", sorted(KERAS_CASES))
def test_keras_weights_file_reproduces_keras_outputs(name, tmp_path):
    application, preprocessing, shared = KERAS_CASES[name]
    reference = application(weights=None, include_top=False, input_shape=(*SIZE, 3))
    _randomize(reference, seed=1)
    path = str(tmp_path / "backbone.weights.h5")
    reference.save_weights(path)

    model = models.build(name, 5, method="adl", pretrained=path, image_size=SIZE)
    x = _images()
    expected = _submodel(reference, shared)(preprocessing.preprocess_input(x.copy()))
    np.testing.assert_allclose(_submodel(model, shared)(x), expected, rtol=1e-4, atol=1e-4)

    report = models.pretrained_report(model)
    new = {"vgg16gap": ("features", "classifier")}.get(name, ("classifier",))
    assert models.new_layer_names(model) == new
    weighted = {layer.name for layer in model.backbone.layers if layer.weights} | {"classifier"}
    assert set(models.pretrained_layer_names(model)) == weighted - set(new)
    assert report.unused == ()
    old, fresh = models.split_trainable_variables(model)
    assert len(old) + len(fresh) == len(model.trainable_variables)
    fresh_ids = {id(v) for n in new for v in model.get_layer(n).trainable_weights}
    assert {id(v) for v in fresh} == fresh_ids


def test_inception_weights_transfer_by_creation_order(tmp_path):
    size = (80, 112)  # keras' InceptionV3 needs >= 75 pixels
    reference = keras.applications.InceptionV3(
        weights=None, include_top=False, input_shape=(*size, 3)
    )
    _randomize(reference, seed=2)
    path = str(tmp_path / "inception.weights.h5")
    reference.save_weights(path)
    model = models.build("inceptionv3", 4, pretrained=path, image_size=size)
    x = np.random.default_rng(0).uniform(0, 255, (2, *size, 3)).astype(np.float32)
    expected = _submodel(reference, "mixed2")(
        keras.applications.inception_v3.preprocess_input(x.copy())
    )
    np.testing.assert_allclose(_submodel(model, "mixed2")(x), expected, rtol=1e-4, atol=1e-4)
    # mixed4-7 are unchanged by the surgery: same input, same output, block by block. Our
    # mixed3 keeps 7x11 at this size; keras' has 7x11 at 139x203, so load the file there too.
    wide = keras.applications.InceptionV3(
        weights=None, include_top=False, input_shape=(139, 203, 3)
    )
    wide.load_weights(path)
    features = np.random.default_rng(3).uniform(0, 2, (2, 7, 11, 768)).astype(np.float32)
    for block in ("mixed4", "mixed5", "mixed6", "mixed7"):
        previous = f"mixed{int(block[-1]) - 1}"
        graph = model.backbone
        ours = keras.Model(graph.get_layer(previous).output, graph.get_layer(block).output)
        theirs = keras.Model(wide.get_layer(previous).output, wide.get_layer(block).output)
        np.testing.assert_allclose(ours(features), theirs(features), rtol=1e-4, atol=1e-4)
    assert models.new_layer_names(model) == ("spg_a3_1b", "features", "classifier")
    assert len(models.pretrained_report(model).unused) == 2 * 24  # mixed8-10: 24 conv + 24 BN


def test_imagenet_comes_from_the_keras_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    reference = keras.applications.MobileNet(weights=None, include_top=False)
    _randomize(reference, seed=4)
    os.makedirs(tmp_path / "models")
    # A legacy (keras 2 style) .h5 file, like the ones keras downloads.
    reference.save(str(tmp_path / "models" / models.spec("mobilenetv1").weights.keras.file_name))
    model = models.build("mobilenetv1", 3, pretrained="imagenet", image_size=SIZE)
    np.testing.assert_array_equal(
        model.get_layer("conv_dw_12").get_weights()[0],
        reference.get_layer("conv_dw_12").get_weights()[0],
    )
    assert models.pretrained_report(model).source.startswith(str(tmp_path))


def test_imagenet_offline_fails_fast_and_says_where_to_put_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    unreachable = pretrained.KerasWeights(
        "MobileNet", "mobilenet_1_0_224_tf_no_top.h5", "http://127.0.0.1:9/mobilenet.h5"
    )
    replace_weights(monkeypatch, "mobilenetv1", keras=unreachable)
    start = time.monotonic()
    with pytest.raises(models.PretrainedWeightsUnavailable) as error:
        models.build("mobilenetv1", 3, pretrained="imagenet", image_size=SIZE)
    assert time.monotonic() - start < 20
    message = str(error.value)
    assert os.path.join(str(tmp_path), "models", "mobilenet_1_0_224_tf_no_top.h5") in message
    assert "--pretrained=/path/mobilenet_1_0_224_tf_no_top.h5" in message


def test_download_timeout_is_bounded(tmp_path):
    # A non-routable address: without the socket timeout this would hang.
    spec = pretrained.KerasWeights("MobileNet", "x.h5", "http://10.255.255.1/x.h5")
    start = time.monotonic()
    with pytest.raises(models.PretrainedWeightsUnavailable):
        pretrained.imagenet_weights_path(spec, cache_dir=str(tmp_path), timeout=1.0)
    assert time.monotonic() - start < 10


def _tensorpack_resnet50se(rng):
    """An npz dict in the Tensorpack naming of ImageNet-ResNet50-SE.npz, random values."""
    values = {}

    def conv_bn(prefix, k, cin, cout):
        values[f"{prefix}/W:0"] = rng.normal(0, 0.1, (k, k, cin, cout))
        values[f"{prefix}/bn/gamma:0"] = rng.normal(1, 0.1, cout)
        values[f"{prefix}/bn/beta:0"] = rng.normal(0, 0.1, cout)
        values[f"{prefix}/bn/mean/EMA:0"] = rng.normal(0, 0.1, cout)
        values[f"{prefix}/bn/variance/EMA:0"] = rng.uniform(0.5, 1.5, cout)

    conv_bn("conv0", 7, 3, 64)
    cin = 64
    for group, (width, blocks) in enumerate(((64, 3), (128, 4), (256, 6), (512, 3))):
        for block in range(blocks):
            p = f"group{group}/block{block}"
            conv_bn(f"{p}/conv1", 1, cin, width)
            conv_bn(f"{p}/conv2", 3, width, width)
            conv_bn(f"{p}/conv3", 1, width, 4 * width)
            if block == 0:
                conv_bn(f"{p}/convshortcut", 1, cin, 4 * width)
            values[f"{p}/fc1/W:0"] = rng.normal(0, 0.1, (4 * width, width // 4))
            values[f"{p}/fc1/b:0"] = rng.normal(0, 0.1, width // 4)
            values[f"{p}/fc2/W:0"] = rng.normal(0, 0.1, (width // 4, 4 * width))
            values[f"{p}/fc2/b:0"] = rng.normal(0, 0.1, 4 * width)
            cin = 4 * width
    values["linear/W:0"] = rng.normal(0, 0.1, (2048, 1000))
    values["linear/b:0"] = rng.normal(0, 0.1, 1000)
    values["global_step:0"] = np.array(5)
    return {k: np.asarray(v, np.float32) for k, v in values.items()}


def test_tensorpack_resnet50se_npz_maps_every_variable(tmp_path):
    values = _tensorpack_resnet50se(np.random.default_rng(5))
    del values["group3/block2/fc2/b:0"]  # a missing variable is reported, its layer stays new
    path = str(tmp_path / "ImageNet-ResNet50-SE.npz")
    np.savez(path, **values)
    model = models.build("resnet50se", 7, method="adl", pretrained=path, image_size=SIZE)
    report = models.pretrained_report(model)
    # The incomplete layer's other variable is left unused too.
    assert report.unused == ("global_step", "group3/block2/fc2/W", "linear/W", "linear/b")
    assert report.missing == ("group3/block2/fc2/b",)
    assert models.new_layer_names(model) == ("conv5_block3_se_expand", "classifier")

    def weights(layer):
        return model.get_layer(layer).get_weights()

    np.testing.assert_array_equal(weights("conv1_conv")[0], values["conv0/W:0"])
    bn = weights("conv4_block3_2_bn")  # gamma, beta, moving mean, moving variance
    for got, key in zip(bn, ("gamma", "beta", "mean/EMA", "variance/EMA"), strict=True):
        np.testing.assert_array_equal(got, values[f"group2/block2/conv2/bn/{key}:0"])
    np.testing.assert_array_equal(
        weights("conv3_block1_0_conv")[0], values["group1/block0/convshortcut/W:0"]
    )
    kernel, bias = weights("conv2_block3_se_reduce")
    np.testing.assert_array_equal(kernel, values["group0/block2/fc1/W:0"])
    np.testing.assert_array_equal(bias, values["group0/block2/fc1/b:0"])
    assert np.all(np.isfinite(model(_images(), training=False)["logits"].numpy()))


def test_tensorpack_vgg16_npz(tmp_path):
    rng = np.random.default_rng(6)
    values = {}
    for block, (convs, cout) in enumerate(((2, 64), (2, 128), (3, 256), (3, 512), (3, 512)), 1):
        for j in range(1, convs + 1):
            cin = {1: 3, 2: 64, 3: 128, 4: 256, 5: 512}[block] if j == 1 else cout
            values[f"conv{block}_{j}/W"] = rng.normal(0, 0.1, (3, 3, cin, cout)).astype(np.float32)
            values[f"conv{block}_{j}/b"] = rng.normal(0, 0.1, cout).astype(np.float32)
    values["fc6/W"] = np.zeros((25088, 1), np.float32)
    path = str(tmp_path / "vgg16.npz")
    np.savez(path, **values)
    model = models.build("vgg16gap", 3, pretrained=path, image_size=SIZE)
    np.testing.assert_array_equal(
        model.get_layer("block4_conv2").get_weights()[0], values["conv4_2/W"]
    )
    np.testing.assert_array_equal(
        model.get_layer("block1_conv1").get_weights()[1], values["conv1_1/b"]
    )
    assert models.new_layer_names(model) == ("features", "classifier")
    assert models.pretrained_report(model).unused == ("fc6/W",)


def test_resnet50se_imagenet_is_tensorpacks_checkpoint_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    cached = tmp_path / "models" / "ImageNet-ResNet50-SE.npz"
    assert models.spec("resnet50se").weights.tensorpack.file_name == cached.name
    # Offline and not cached: the download fails fast, naming where the file goes.
    unreachable = pretrained.TensorpackWeights(cached.name, "http://127.0.0.1:9/x.npz")
    replace_weights(monkeypatch, "resnet50se", tensorpack=unreachable)
    with pytest.raises(models.PretrainedWeightsUnavailable) as error:
        models.build("resnet50se", 3, pretrained="imagenet", image_size=SIZE)
    assert str(cached) in str(error.value) and "--pretrained=/path/" + cached.name in str(
        error.value
    )
    assert not cached.exists()  # no partial file taken for the checkpoint next time
    values = _tensorpack_resnet50se(np.random.default_rng(7))
    os.makedirs(cached.parent, exist_ok=True)
    np.savez(str(cached), **values)
    model = models.build("resnet50se", 3, pretrained="imagenet", image_size=SIZE)
    assert models.pretrained_report(model).source == str(cached)
    np.testing.assert_array_equal(
        model.get_layer("conv4_block2_1_conv").get_weights()[0],
        values["group2/block1/conv1/W:0"],
    )


def test_bad_pretrained_values_are_refused(tmp_path):
    with pytest.raises(ValueError, match="tinyvgg"):
        models.build("tinyvgg", 3, pretrained="imagenet", image_size=SIZE)
    with pytest.raises(FileNotFoundError, match="nowhere.h5"):
        models.build("vgg16gap", 3, pretrained=str(tmp_path / "nowhere.h5"), image_size=SIZE)
    with pytest.raises(ValueError, match="'weights.pt'"):
        models.build("vgg16gap", 3, pretrained="weights.pt", image_size=SIZE)
    empty = str(tmp_path / "other.npz")
    np.savez(empty, something=np.zeros(2))
    with pytest.raises(ValueError, match="no variable matches.*conv0/W"):
        models.build("resnet50se", 3, pretrained=empty, image_size=SIZE)
    wrong = str(tmp_path / "mobilenet.weights.h5")
    keras.applications.MobileNet(weights=None, include_top=False).save_weights(wrong)
    with pytest.raises(ValueError, match="not a keras.applications.VGG16 weights file"):
        models.build("vgg16gap", 3, pretrained=wrong, image_size=SIZE)


def test_no_pretrained_means_every_layer_is_new():
    model = models.build("mobilenetv1", 3, image_size=SIZE)
    assert models.pretrained_layer_names(model) == ()
    old, fresh = models.split_trainable_variables(model)
    assert old == [] and len(fresh) == len(model.trainable_variables)


def test_training_with_imagenet_offline_fails_before_the_workdir_is_written(tmp_path, monkeypatch):
    from wsol_tf import training
    from wsol_tf.runs.config import TrainConfig

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    unreachable = pretrained.KerasWeights("MobileNet", "m.h5", "http://127.0.0.1:9/m.h5")
    replace_weights(monkeypatch, "mobilenetv1", keras=unreachable)
    workdir = tmp_path / "run"
    config = TrainConfig.from_settings(
        model="mobilenetv1", dataset="synthetic", pretrained="imagenet", epochs=1,
        batch_size=4, image_size=SIZE, workdir=str(workdir),
    )  # fmt: skip
    with pytest.raises(models.PretrainedWeightsUnavailable, match="--pretrained=imagenet"):
        training.train(config, print_fn=lambda _: None)
    assert not workdir.exists()
    # A backbone without ImageNet weights is refused by the config check itself.
    with pytest.raises(ValueError, match="no keras.applications weights exist"):
        TrainConfig.from_settings(
            model="tinyvgg", dataset="synthetic", pretrained="imagenet", workdir=str(workdir)
        ).validate()
