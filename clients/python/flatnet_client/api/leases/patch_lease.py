from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.lease import Lease
from ...models.patch_lease_body import PatchLeaseBody
from ...models.status import Status
from ...types import UNSET, Response, Unset


def _get_kwargs(
    namespace: str,
    name: str,
    *,
    body: PatchLeaseBody,
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
        "method": "patch",
        "url": "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}".format(
            namespace=quote(str(namespace), safe=""),
            name=quote(str(name), safe=""),
        ),
        "params": params,
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/merge-patch+json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Lease | Status | None:
    if response.status_code == 200:
        response_200 = Lease.from_dict(response.json())

        return response_200

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
    name: str,
    *,
    client: AuthenticatedClient,
    body: PatchLeaseBody,
    dry_run: str | Unset = UNSET,
    field_validation: str | Unset = UNSET,
    field_manager: str | Unset = UNSET,
) -> Response[Lease | Status]:
    """Patch a Lease: JSON merge patch, JSON patch, strategic merge patch (lists merged by key), or server-
    side apply (creates it when missing; needs fieldManager)

    Args:
        namespace (str):
        name (str):
        dry_run (str | Unset):
        field_validation (str | Unset):
        field_manager (str | Unset):
        body (PatchLeaseBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Lease | Status]
    """

    kwargs = _get_kwargs(
        namespace=namespace,
        name=name,
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
    name: str,
    *,
    client: AuthenticatedClient,
    body: PatchLeaseBody,
    dry_run: str | Unset = UNSET,
    field_validation: str | Unset = UNSET,
    field_manager: str | Unset = UNSET,
) -> Lease | Status | None:
    """Patch a Lease: JSON merge patch, JSON patch, strategic merge patch (lists merged by key), or server-
    side apply (creates it when missing; needs fieldManager)

    Args:
        namespace (str):
        name (str):
        dry_run (str | Unset):
        field_validation (str | Unset):
        field_manager (str | Unset):
        body (PatchLeaseBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Lease | Status
    """

    return sync_detailed(
        namespace=namespace,
        name=name,
        client=client,
        body=body,
        dry_run=dry_run,
        field_validation=field_validation,
        field_manager=field_manager,
    ).parsed


async def asyncio_detailed(
    namespace: str,
    name: str,
    *,
    client: AuthenticatedClient,
    body: PatchLeaseBody,
    dry_run: str | Unset = UNSET,
    field_validation: str | Unset = UNSET,
    field_manager: str | Unset = UNSET,
) -> Response[Lease | Status]:
    """Patch a Lease: JSON merge patch, JSON patch, strategic merge patch (lists merged by key), or server-
    side apply (creates it when missing; needs fieldManager)

    Args:
        namespace (str):
        name (str):
        dry_run (str | Unset):
        field_validation (str | Unset):
        field_manager (str | Unset):
        body (PatchLeaseBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Lease | Status]
    """

    kwargs = _get_kwargs(
        namespace=namespace,
        name=name,
        body=body,
        dry_run=dry_run,
        field_validation=field_validation,
        field_manager=field_manager,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    namespace: str,
    name: str,
    *,
    client: AuthenticatedClient,
    body: PatchLeaseBody,
    dry_run: str | Unset = UNSET,
    field_validation: str | Unset = UNSET,
    field_manager: str | Unset = UNSET,
) -> Lease | Status | None:
    """Patch a Lease: JSON merge patch, JSON patch, strategic merge patch (lists merged by key), or server-
    side apply (creates it when missing; needs fieldManager)

    Args:
        namespace (str):
        name (str):
        dry_run (str | Unset):
        field_validation (str | Unset):
        field_manager (str | Unset):
        body (PatchLeaseBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Lease | Status
    """

    return (
        await asyncio_detailed(
            namespace=namespace,
            name=name,
            client=client,
            body=body,
            dry_run=dry_run,
            field_validation=field_validation,
            field_manager=field_manager,
        )
    ).parsed
