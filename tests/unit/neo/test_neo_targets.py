"""Which Neo targets SageMaker hosts, and on which instance types."""

from __future__ import annotations

import pytest

from registrar import _shapes
from registrar.neo.targets import family_for, instance_types, target_kind, target_label

ML_TARGETS = [device for device in _shapes.TARGET_DEVICES if device.startswith("ml_")]
HOSTABLE = [device for device in ML_TARGETS if device != "ml_eia2"]
NO_TRANSFORM = {"ml_inf1", "ml_c6g", "ml_m6g"}


@pytest.mark.parametrize("device", HOSTABLE)
def test_every_ml_instance_target_maps_to_its_own_family_only(device: str) -> None:
    # GIVEN an ml_* target device WHEN its family and instance types are looked up
    family = family_for(device, None)
    realtime, transform = instance_types(family or "")

    # THEN the family is the device without ml_, with at least one realtime type, all of that family only
    assert family == device.removeprefix("ml_")
    assert realtime
    assert all(value.split(".")[1] == family for value in realtime + transform)
    assert set(realtime) <= set(_shapes.REALTIME_INSTANCE_TYPES)
    assert set(transform) <= set(_shapes.TRANSFORM_INSTANCE_TYPES)


@pytest.mark.parametrize("device", HOSTABLE)
def test_transform_types_are_left_out_only_where_the_api_has_none(device: str) -> None:
    _, transform = instance_types(device.removeprefix("ml_"))

    assert (not transform) == (device in NO_TRANSFORM)


def test_ml_c5_does_not_include_c5d() -> None:
    realtime, transform = instance_types("c5")

    assert "ml.c5.large" in realtime
    assert not any(value.startswith("ml.c5d.") for value in realtime + transform)


@pytest.mark.parametrize("device", ["lambda", "ml_eia2", "jetson_nano", "rasp4b", "coreml", "x86_win64", None])
def test_lambda_eia_and_edge_devices_have_no_family(device: str | None) -> None:
    assert family_for(device, None) is None


def test_every_target_device_of_the_api_is_classified() -> None:
    kinds = {device: target_kind(device) for device in _shapes.TARGET_DEVICES}

    assert {device for device, kind in kinds.items() if kind == "instance"} == set(HOSTABLE)
    assert kinds["lambda"] == "lambda"
    assert kinds["ml_eia2"] == "unhostable"
    assert kinds["jetson_nano"] == "edge"


@pytest.mark.parametrize(
    "platform",
    [
        {"Os": "LINUX", "Arch": "X86_64"},
        {"Os": "LINUX", "Arch": "ARM64", "Accelerator": "NVIDIA"},
        {"Os": "ANDROID", "Arch": "ARM64"},
    ],
)
def test_target_platform_jobs_are_never_hostable(platform: dict[str, str]) -> None:
    assert family_for(None, platform) is None
    assert target_kind(None, platform) == "edge"


def test_a_platform_is_labelled_like_neo_labels_its_artifact() -> None:
    assert target_label(None, {"Os": "LINUX", "Arch": "ARM64", "Accelerator": "NVIDIA"}) == "linux_arm64_nvidia"
    assert target_label("ml_c5", None) == "ml_c5"
