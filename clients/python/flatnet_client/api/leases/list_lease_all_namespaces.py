from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.lease_list import LeaseList
from ...models.status import Status
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    label_selector: str | Unset = UNSET,
    watch: bool | Unset = UNSET,
    resource_version: str | Unset = UNSET,
    allow_watch_bookmarks: bool | Unset = UNSET,
    timeout_seconds: int | Unset = UNSET,
    field_selector: str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["labelSelector"] = label_selector

    params["watch"] = watch

    params["resourceVersion"] = resource_version

    params["allowWatchBookmarks"] = allow_watch_bookmarks

    params["timeoutSeconds"] = timeout_seconds

    params["fieldSelector"] = field_selector

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/apis/coordination.k8s.io/v1/leases",
        "params": params,
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> LeaseList | Status | None:
    if response.status_code == 200:
        response_200 = LeaseList.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = Status.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Status.from_dict(response.json())

        return response_401

    if response.status_code == 404:
        response_404 = Status.from_dict(response.json())

        return response_404

    if response.status_code == 410:
        response_410 = Status.from_dict(response.json())

        return response_410

    if response.status_code == 500:
        response_500 = Status.from_dict(response.json())

        return response_500

    if response.status_code == 504:
        response_504 = Status.from_dict(response.json())

        return response_504

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[LeaseList | Status]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    label_selector: str | Unset = UNSET,
    watch: bool | Unset = UNSET,
    resource_version: str | Unset = UNSET,
    allow_watch_bookmarks: bool | Unset = UNSET,
    timeout_seconds: int | Unset = UNSET,
    field_selector: str | Unset = UNSET,
) -> Response[LeaseList | Status]:
    """List or watch leases in all namespaces

    Args:
        label_selector (str | Unset):
        watch (bool | Unset):
        resource_version (str | Unset):
        allow_watch_bookmarks (bool | Unset):
        timeout_seconds (int | Unset):
        field_selector (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[LeaseList | Status]
    """

    kwargs = _get_kwargs(
        label_selector=label_selector,
        watch=watch,
        resource_version=resource_version,
        allow_watch_bookmarks=allow_watch_bookmarks,
        timeout_seconds=timeout_seconds,
        field_selector=field_selector,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    label_selector: str | Unset = UNSET,
    watch: bool | Unset = UNSET,
    resource_version: str | Unset = UNSET,
    allow_watch_bookmarks: bool | Unset = UNSET,
    timeout_seconds: int | Unset = UNSET,
    field_selector: str | Unset = UNSET,
) -> LeaseList | Status | None:
    """List or watch leases in all namespaces

    Args:
        label_selector (str | Unset):
        watch (bool | Unset):
        resource_version (str | Unset):
        allow_watch_bookmarks (bool | Unset):
        timeout_seconds (int | Unset):
        field_selector (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        LeaseList | Status
    """

    return sync_detailed(
        client=client,
        label_selector=label_selector,
        watch=watch,
        resource_version=resource_version,
        allow_watch_bookmarks=allow_watch_bookmarks,
        timeout_seconds=timeout_seconds,
        field_selector=field_selector,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    label_selector: str | Unset = UNSET,
    watch: bool | Unset = UNSET,
    resource_version: str | Unset = UNSET,
    allow_watch_bookmarks: bool | Unset = UNSET,
    timeout_seconds: int | Unset = UNSET,
    field_selector: str | Unset = UNSET,
) -> Response[LeaseList | Status]:
    """List or watch leases in all namespaces

    Args:
        label_selector (str | Unset):
        watch (bool | Unset):
        resource_version (str | Unset):
        allow_watch_bookmarks (bool | Unset):
        timeout_seconds (int | Unset):
        field_selector (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[LeaseList | Status]
    """

    kwargs = _get_kwargs(
        label_selector=label_selector,
        watch=watch,
        resource_version=resource_version,
        allow_watch_bookmarks=allow_watch_bookmarks,
        timeout_seconds=timeout_seconds,
        field_selector=field_selector,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    label_selector: str | Unset = UNSET,
    watch: bool | Unset = UNSET,
    resource_version: str | Unset = UNSET,
    allow_watch_bookmarks: bool | Unset = UNSET,
    timeout_seconds: int | Unset = UNSET,
    field_selector: str | Unset = UNSET,
) -> LeaseList | Status | None:
    """List or watch leases in all namespaces

    Args:
        label_selector (str | Unset):
        watch (bool | Unset):
        resource_version (str | Unset):
        allow_watch_bookmarks (bool | Unset):
        timeout_seconds (int | Unset):
        field_selector (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        LeaseList | Status
    """

    return (
        await asyncio_detailed(
            client=client,
            label_selector=label_selector,
            watch=watch,
            resource_version=resource_version,
            allow_watch_bookmarks=allow_watch_bookmarks,
            timeout_seconds=timeout_seconds,
            field_selector=field_selector,
        )
    ).parsed
