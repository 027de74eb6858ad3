from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.lease import Lease
from ...models.status import Status
from ...types import UNSET, Response, Unset


def _get_kwargs(
    namespace: str,
    *,
    body: Lease,
    dry_run: str | Unset = UNSET,
    field_validation: str | Unset = UNSET,
    field_manager: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    params: dict[str, Any] = {}

    params["dryRun"] = dry_run

    params["fieldValidation"] = field_validation

    params["fieldManager"] = field_manager

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases".format(
            namespace=quote(str(namespace), safe=""),
        ),
        "params": params,
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Lease | Status | None:
    if response.status_code == 201:
        response_201 = Lease.from_dict(response.json())

        return response_201

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Lease | Status]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    namespace: str,
    *,
    client: AuthenticatedClient,
    body: Lease,
    dry_run: str | Unset = UNSET,
    field_validation: str | Unset = UNSET,
    field_manager: str | Unset = UNSET,
) -> Response[Lease | Status]:
    """Create a lease (admin; a node's token: its own in kube-node-lease)

    Args:
        namespace (str):
        dry_run (str | Unset):
        field_validation (str | Unset):
        field_manager (str | Unset):
        body (Lease): A lease, in Kubernetes' `coordination.k8s.io/v1` shape: who holds something,
            since when,
            and until when unless renewed. Each node's heartbeat renews `kube-node-lease/NODE`
            (created at its first heartbeat); the API server's leader turns a node whose Lease ran
            out NotReady, and reclaims its CIDR after the grace. Nobody else watches these, so a
            renewal costs one event to no node. Admins may create, replace and delete Leases (for
            their own leader election, as client-go's `leaselock` does); a node's token may write
            only its own Lease in `kube-node-lease`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Lease | Status]
    """

    kwargs = _get_kwargs(
        namespace=namespace,
        body=body,
        dry_run=dry_run,
        field_validation=field_validation,
        field_manager=field_manager,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    namespace: str,
    *,
    client: AuthenticatedClient,
    body: Lease,
    dry_run: str | Unset = UNSET,
    field_validation: str | Unset = UNSET,
    field_manager: str | Unset = UNSET,
) -> Lease | Status | None:
    """Create a lease (admin; a node's token: its own in kube-node-lease)

    Args:
        namespace (str):
        dry_run (str | Unset):
        field_validation (str | Unset):
        field_manager (str | Unset):
        body (Lease): A lease, in Kubernetes' `coordination.k8s.io/v1` shape: who holds something,
            since when,
            and until when unless renewed. Each node's heartbeat renews `kube-node-lease/NODE`
            (created at its first heartbeat); the API server's leader turns a node whose Lease ran
            out NotReady, and reclaims its CIDR after the grace. Nobody else watches these, so a
            renewal costs one event to no node. Admins may create, replace and delete Leases (for
            their own leader election, as client-go's `leaselock` does); a node's token may write
            only its own Lease in `kube-node-lease`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Lease | Status
    """

    return sync_detailed(
        namespace=namespace,
        client=client,
        body=body,
        dry_run=dry_run,
        field_validation=field_validation,
        field_manager=field_manager,
    ).parsed


async def asyncio_detailed(
    namespace: str,
    *,
    client: AuthenticatedClient,
    body: Lease,
    dry_run: str | Unset = UNSET,
    field_validation: str | Unset = UNSET,
    field_manager: str | Unset = UNSET,
) -> Response[Lease | Status]:
    """Create a lease (admin; a node's token: its own in kube-node-lease)

    Args:
        namespace (str):
        dry_run (str | Unset):
        field_validation (str | Unset):
        field_manager (str | Unset):
        body (Lease): A lease, in Kubernetes' `coordination.k8s.io/v1` shape: who holds something,
            since when,
            and until when unless renewed. Each node's heartbeat renews `kube-node-lease/NODE`
            (created at its first heartbeat); the API server's leader turns a node whose Lease ran
            out NotReady, and reclaims its CIDR after the grace. Nobody else watches these, so a
            renewal costs one event to no node. Admins may create, replace and delete Leases (for
            their own leader election, as client-go's `leaselock` does); a node's token may write
            only its own Lease in `kube-node-lease`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Lease | Status]
    """

    kwargs = _get_kwargs(
        namespace=namespace,
        body=body,
        dry_run=dry_run,
        field_validation=field_validation,
        field_manager=field_manager,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    namespace: str,
    *,
    client: AuthenticatedClient,
    body: Lease,
    dry_run: str | Unset = UNSET,
    field_validation: str | Unset = UNSET,
    field_manager: str | Unset = UNSET,
) -> Lease | Status | None:
    """Create a lease (admin; a node's token: its own in kube-node-lease)

    Args:
        namespace (str):
        dry_run (str | Unset):
        field_validation (str | Unset):
        field_manager (str | Unset):
        body (Lease): A lease, in Kubernetes' `coordination.k8s.io/v1` shape: who holds something,
            since when,
            and until when unless renewed. Each node's heartbeat renews `kube-node-lease/NODE`
            (created at its first heartbeat); the API server's leader turns a node whose Lease ran
            out NotReady, and reclaims its CIDR after the grace. Nobody else watches these, so a
            renewal costs one event to no node. Admins may create, replace and delete Leases (for
            their own leader election, as client-go's `leaselock` does); a node's token may write
            only its own Lease in `kube-node-lease`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Lease | Status
    """

    return (
        await asyncio_detailed(
            namespace=namespace,
            client=client,
            body=body,
            dry_run=dry_run,
            field_validation=field_validation,
            field_manager=field_manager,
        )
    ).parsed
