"""SageMaker endpoints that can be updated, and that announce going into service.

Departures corrected (docs/sagemaker.md#endpoints-in-the-emulator), mixed into the emulator's SageMaker
backend and response handler (:mod:`registrar_dev.emulator.sagemaker`):

15. moto answers ``UpdateEndpoint`` with HTTP 500 (its handler does not exist). :meth:`EndpointsBackend.update_endpoint`
    switches the endpoint to the new configuration at once: ``EndpointConfigName``, the variants, and
    ``LastModifiedTime`` change, the status stays ``InService`` (SageMaker goes ``Updating`` and back; the
    emulator ends every change at once, as it ends jobs). An unknown endpoint or configuration is a
    ``ValidationException`` "Could not find ...", as SageMaker answers.
16. moto's endpoints emit no ``SageMaker Endpoint State Change``. ``CreateEndpoint`` and ``UpdateEndpoint`` now
    publish one, ``IN_SERVICE``, in the shape of SageMaker's example event (docs/sagemaker.md#endpoint):
    ``EndpointName``, ``EndpointArn``, ``EndpointConfigName``, ``ProductionVariants`` with
    ``DesiredWeight``/``DesiredInstanceCount`` only (floats), ``EndpointStatus``, ``CreationTime`` and
    ``LastModifiedTime`` as epoch-millisecond floats, and ``Tags`` as a map. The envelope ``time`` is
    the endpoint's ``LastModifiedTime``; moto renders every delivered event's ``time`` as ISO-8601 (the
    example writes epoch milliseconds as text; registrar reads neither).
17. moto drops ``ShadowProductionVariants`` from ``CreateEndpointConfig``: they are kept (their models must
    exist, as for production variants) and DescribeEndpointConfig returns them.

Endpoint times are kept to the millisecond (:mod:`registrar_dev.emulator.clock`), so a ``LastModifiedTime``
read back equals the one the event carries.
"""

from __future__ import annotations

import copy
from typing import Any

from moto.core.responses import ActionResult
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import FakeEndpoint

from registrar_dev.emulator import clock, events

ENDPOINT_STATE_CHANGE = "SageMaker Endpoint State Change"
# What SageMaker's example event writes; DescribeEndpoint answers InService.
IN_SERVICE_EVENT_STATUS = "IN_SERVICE"


class EndpointsBackend:
    """The endpoint half of the emulator's SageMaker backend (mixed in before moto's ``SageMakerModelBackend``)."""

    # Provided by moto's SageMakerModelBackend.
    account_id: str
    region_name: str
    endpoints: dict[str, FakeEndpoint]
    endpoint_configs: dict[str, Any]

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)  # type: ignore[call-arg]
        # Endpoint configuration name -> its ShadowProductionVariants (fix 17).
        self.shadow_variants: dict[str, list[dict[str, Any]]] = {}

    def create_endpoint_config(self, *args: Any, shadow_production_variants: Any = None, **kwargs: Any) -> Any:
        """Create an endpoint configuration as moto does, keeping ``ShadowProductionVariants`` (fix 17).

        Returns
        -------
        moto.sagemaker.models.FakeEndpointConfig
            The configuration.
        """
        shadows = list(shadow_production_variants or [])
        if shadows:
            self.validate_production_variants(shadows)  # type: ignore[attr-defined]
        config = super().create_endpoint_config(*args, **kwargs)  # type: ignore[misc]
        self.shadow_variants[config.endpoint_config_name] = copy.deepcopy(shadows)
        return config

    def describe_endpoint_config(self, endpoint_config_name: str) -> dict[str, Any]:
        """Describe an endpoint configuration, with its ``ShadowProductionVariants`` when it has some.

        Returns
        -------
        dict
            The DescribeEndpointConfig output.
        """
        described: dict[str, Any] = dict(super().describe_endpoint_config(endpoint_config_name))  # type: ignore[misc]
        shadows = self.shadow_variants.get(endpoint_config_name)
        if shadows:
            described["ShadowProductionVariants"] = copy.deepcopy(shadows)
        return described

    def delete_endpoint_config(self, endpoint_config_name: str) -> None:
        """Delete an endpoint configuration, and the shadow variants kept for it."""
        super().delete_endpoint_config(endpoint_config_name)  # type: ignore[misc]
        self.shadow_variants.pop(endpoint_config_name, None)

    def create_endpoint(self, endpoint_name: str, endpoint_config_name: str, tags: Any) -> FakeEndpoint:
        """Create an endpoint, in service at once, and publish its ``IN_SERVICE`` event (fix 16).

        Returns
        -------
        moto.sagemaker.models.FakeEndpoint
            The endpoint.
        """
        endpoint: FakeEndpoint = super().create_endpoint(endpoint_name, endpoint_config_name, tags)  # type: ignore[misc]
        endpoint.creation_time = endpoint.last_modified_time = clock.now()
        self._publish_endpoint(endpoint)
        return endpoint

    def update_endpoint(self, endpoint_name: str, endpoint_config_name: str) -> str:
        """Switch an endpoint to another configuration at once, and publish its ``IN_SERVICE`` event (fix 15, 16).

        Parameters
        ----------
        endpoint_name
            The endpoint to update.
        endpoint_config_name
            The configuration it serves from now on.

        Returns
        -------
        str
            The endpoint's ARN.

        Raises
        ------
        moto.sagemaker.exceptions.ValidationError
            The endpoint or the configuration does not exist.
        """
        endpoint = self.endpoints.get(endpoint_name)
        if endpoint is None:
            arn = FakeEndpoint.arn_formatter(endpoint_name, self.account_id, self.region_name)
            raise ValidationError(message=f"Could not find endpoint '{arn}'.")
        config = self.describe_endpoint_config(endpoint_config_name)
        endpoint.endpoint_config_name = endpoint_config_name
        endpoint.production_variants = endpoint._process_production_variants(config["ProductionVariants"])
        endpoint.data_capture_config = config.get("DataCaptureConfig") or {}
        endpoint.endpoint_status = "InService"
        endpoint.last_modified_time = clock.now()
        self._publish_endpoint(endpoint)
        return str(endpoint.arn)

    def endpoint_event_detail(self, endpoint: FakeEndpoint) -> dict[str, Any]:
        """The ``detail`` of an endpoint's ``SageMaker Endpoint State Change``, in the shape of SageMaker's example.

        Returns
        -------
        dict
            JSON-ready: times as epoch-millisecond floats, tags as a map.
        """
        variants = []
        for variant in endpoint.production_variants:
            shown = {"DesiredWeight": float(variant.get("DesiredWeight") or 1.0)}
            if variant.get("DesiredInstanceCount") is not None:
                shown["DesiredInstanceCount"] = float(variant["DesiredInstanceCount"])
            variants.append(shown)
        return {
            "EndpointName": endpoint.endpoint_name,
            "EndpointArn": endpoint.arn,
            "EndpointConfigName": endpoint.endpoint_config_name,
            "ProductionVariants": variants,
            "EndpointStatus": IN_SERVICE_EVENT_STATUS,
            "CreationTime": float(clock.epoch_millis(endpoint.creation_time)),
            "LastModifiedTime": float(clock.epoch_millis(endpoint.last_modified_time)),
            "Tags": {tag["Key"]: tag["Value"] for tag in endpoint.tags or []},
        }

    def _publish_endpoint(self, endpoint: FakeEndpoint) -> None:
        events.publish(
            self.account_id,
            self.region_name,
            ENDPOINT_STATE_CHANGE,
            [endpoint.arn],
            self.endpoint_event_detail(endpoint),
            at=endpoint.last_modified_time,
        )


class EndpointsResponse:
    """The endpoint half of the emulator's SageMaker response handler (mixed in before moto's ``SageMakerResponse``)."""

    sagemaker_backend: Any  # moto's property, typed by the handler it is mixed into
    _get_param: Any

    def update_endpoint(self) -> ActionResult:
        """Answer UpdateEndpoint (fix 15)."""
        arn = self.sagemaker_backend.update_endpoint(
            endpoint_name=self._get_param("EndpointName"),
            endpoint_config_name=self._get_param("EndpointConfigName"),
        )
        return ActionResult({"EndpointArn": arn})

    def create_endpoint_config(self) -> ActionResult:
        """Answer CreateEndpointConfig, keeping ShadowProductionVariants (fix 17)."""
        config = self.sagemaker_backend.create_endpoint_config(
            endpoint_config_name=self._get_param("EndpointConfigName"),
            async_inference_config=self._get_param("AsyncInferenceConfig"),
            production_variants=self._get_param("ProductionVariants"),
            data_capture_config=self._get_param("DataCaptureConfig"),
            tags=self._get_param("Tags"),
            kms_key_id=self._get_param("KmsKeyId"),
            shadow_production_variants=self._get_param("ShadowProductionVariants"),
        )
        return ActionResult({"EndpointConfigArn": config.endpoint_config_arn})
