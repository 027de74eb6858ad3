from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.heartbeat import Heartbeat
from ...models.node_lease import NodeLease
from ...models.status import Status
from ...types import Response


def _get_kwargs(
    name: str,
    *,
    body: Heartbeat,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/v1/nodes/{name}/heartbeat".format(
            name=quote(str(name), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> NodeLease | Status | None:
    if response.status_code == 200:
        response_200 = NodeLease.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = Status.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Status.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = Status.from_dict(response.json())

        return response_403

    if response.status_code == 404:
        response_404 = Status.from_dict(response.json())

        return response_404

    if response.status_code == 409:
        response_409 = Status.from_dict(response.json())

        return response_409

    if response.status_code == 413:
        response_413 = Status.from_dict(response.json())

        return response_413

    if response.status_code == 415:
        response_415 = Status.from_dict(response.json())

        return response_415

    if response.status_code == 422:
        response_422 = Status.from_dict(response.json())

        return response_422

    if response.status_code == 500:
        response_500 = Status.from_dict(response.json())

        return response_500

    if response.status_code == 503:
        response_503 = Status.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[NodeLease | Status]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    name: str,
    *,
    client: AuthenticatedClient,
    body: Heartbeat,
) -> Response[NodeLease | Status]:
    """Renew the node's Lease kube-node-lease/{name} and publish its backend data in its CIDR lease
    (acquiring one if it has none; the CIDR lease is written only when what it holds changes); the node
    turns Ready

    Args:
        name (str):
        body (Heartbeat): Body of `POST /api/v1/nodes/{name}/heartbeat`: renews the node's lease
            (acquiring one
            if it has none) and publishes its backend data.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[NodeLease | Status]
    """

    kwargs = _get_kwargs(
        name=name,
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    name: str,
    *,
    client: AuthenticatedClient,
    body: Heartbeat,
) -> NodeLease | Status | None:
    """Renew the node's Lease kube-node-lease/{name} and publish its backend data in its CIDR lease
    (acquiring one if it has none; the CIDR lease is written only when what it holds changes); the node
    turns Ready

    Args:
        name (str):
        body (Heartbeat): Body of `POST /api/v1/nodes/{name}/heartbeat`: renews the node's lease
            (acquiring one
            if it has none) and publishes its backend data.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        NodeLease | Status
    """

    return sync_detailed(
        name=name,
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    name: str,
    *,
    client: AuthenticatedClient,
    body: Heartbeat,
) -> Response[NodeLease | Status]:
    """Renew the node's Lease kube-node-lease/{name} and publish its backend data in its CIDR lease
    (acquiring one if it has none; the CIDR lease is written only when what it holds changes); the node
    turns Ready

    Args:
        name (str):
        body (Heartbeat): Body of `POST /api/v1/nodes/{name}/heartbeat`: renews the node's lease
            (acquiring one
            if it has none) and publishes its backend data.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[NodeLease | Status]
    """

    kwargs = _get_kwargs(
        name=name,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    name: str,
    *,
    client: AuthenticatedClient,
    body: Heartbeat,
) -> NodeLease | Status | None:
    """Renew the node's Lease kube-node-lease/{name} and publish its backend data in its CIDR lease
    (acquiring one if it has none; the CIDR lease is written only when what it holds changes); the node
    turns Ready

    Args:
        name (str):
        body (Heartbeat): Body of `POST /api/v1/nodes/{name}/heartbeat`: renews the node's lease
            (acquiring one
            if it has none) and publishes its backend data.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        NodeLease | Status
    """

    return (
        await asyncio_detailed(
            name=name,
            client=client,
            body=body,
        )
    ).parsed
