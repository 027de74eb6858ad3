from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.openapi_v3_apis_coordination_k8s_io_v1_response_200 import OpenapiV3ApisCoordinationK8SIoV1Response200
from ...models.status import Status
from ...types import Response


def _get_kwargs() -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/openapi/v3/apis/coordination.k8s.io/v1",
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> OpenapiV3ApisCoordinationK8SIoV1Response200 | Status | None:
    if response.status_code == 200:
        response_200 = OpenapiV3ApisCoordinationK8SIoV1Response200.from_dict(response.json())

        return response_200

    if response.status_code == 401:
        response_401 = Status.from_dict(response.json())

        return response_401

    if response.status_code == 500:
        response_500 = Status.from_dict(response.json())

        return response_500

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[OpenapiV3ApisCoordinationK8SIoV1Response200 | Status]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
) -> Response[OpenapiV3ApisCoordinationK8SIoV1Response200 | Status]:
    """The OpenAPI 3 document of apis/coordination.k8s.io/v1, with Kubernetes' extensions (kubectl explain
    and validation read it)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[OpenapiV3ApisCoordinationK8SIoV1Response200 | Status]
    """

    kwargs = _get_kwargs()

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
) -> OpenapiV3ApisCoordinationK8SIoV1Response200 | Status | None:
    """The OpenAPI 3 document of apis/coordination.k8s.io/v1, with Kubernetes' extensions (kubectl explain
    and validation read it)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        OpenapiV3ApisCoordinationK8SIoV1Response200 | Status
    """

    return sync_detailed(
        client=client,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
) -> Response[OpenapiV3ApisCoordinationK8SIoV1Response200 | Status]:
    """The OpenAPI 3 document of apis/coordination.k8s.io/v1, with Kubernetes' extensions (kubectl explain
    and validation read it)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[OpenapiV3ApisCoordinationK8SIoV1Response200 | Status]
    """

    kwargs = _get_kwargs()

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
) -> OpenapiV3ApisCoordinationK8SIoV1Response200 | Status | None:
    """The OpenAPI 3 document of apis/coordination.k8s.io/v1, with Kubernetes' extensions (kubectl explain
    and validation read it)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        OpenapiV3ApisCoordinationK8SIoV1Response200 | Status
    """

    return (
        await asyncio_detailed(
            client=client,
        )
    ).parsed
