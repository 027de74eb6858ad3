from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.status import Status
from ...types import UNSET, Response, Unset


def _get_kwargs(
    namespace: str,
    name: str,
    *,
    command: list[str],
    container: str | Unset = UNSET,
    stdin: bool | Unset = UNSET,
    stdout: bool | Unset = UNSET,
    stderr: bool | Unset = UNSET,
    tty: bool | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_command = command

    params["command"] = json_command

    params["container"] = container

    params["stdin"] = stdin

    params["stdout"] = stdout

    params["stderr"] = stderr

    params["tty"] = tty

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/namespaces/{namespace}/pods/{name}/exec".format(
            namespace=quote(str(namespace), safe=""),
            name=quote(str(name), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Status | str | None:
    if response.status_code == 101:
        response_101 = response.text
        return response_101

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

    if response.status_code == 500:
        response_500 = Status.from_dict(response.json())

        return response_500

    if response.status_code == 502:
        response_502 = Status.from_dict(response.json())

        return response_502

    if response.status_code == 503:
        response_503 = Status.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Status | str]:
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
    command: list[str],
    container: str | Unset = UNSET,
    stdin: bool | Unset = UNSET,
    stdout: bool | Unset = UNSET,
    stderr: bool | Unset = UNSET,
    tty: bool | Unset = UNSET,
) -> Response[Status | str]:
    """Run a command in a pod's container (admin only), as `kubectl exec`: a websocket with the subprotocol
    v5.channel.k8s.io (or v4), proxied to the node's agent. Channels: 0 stdin, 1 stdout, 2 stderr, 3 a
    Status when the command ends (reason NonZeroExitCode and the code in details.causes when not 0).
    Websockets only: any other request is 400

    Args:
        namespace (str):
        name (str):
        command (list[str]):
        container (str | Unset):
        stdin (bool | Unset):
        stdout (bool | Unset):
        stderr (bool | Unset):
        tty (bool | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Status | str]
    """

    kwargs = _get_kwargs(
        namespace=namespace,
        name=name,
        command=command,
        container=container,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        tty=tty,
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
    command: list[str],
    container: str | Unset = UNSET,
    stdin: bool | Unset = UNSET,
    stdout: bool | Unset = UNSET,
    stderr: bool | Unset = UNSET,
    tty: bool | Unset = UNSET,
) -> Status | str | None:
    """Run a command in a pod's container (admin only), as `kubectl exec`: a websocket with the subprotocol
    v5.channel.k8s.io (or v4), proxied to the node's agent. Channels: 0 stdin, 1 stdout, 2 stderr, 3 a
    Status when the command ends (reason NonZeroExitCode and the code in details.causes when not 0).
    Websockets only: any other request is 400

    Args:
        namespace (str):
        name (str):
        command (list[str]):
        container (str | Unset):
        stdin (bool | Unset):
        stdout (bool | Unset):
        stderr (bool | Unset):
        tty (bool | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Status | str
    """

    return sync_detailed(
        namespace=namespace,
        name=name,
        client=client,
        command=command,
        container=container,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        tty=tty,
    ).parsed


async def asyncio_detailed(
    namespace: str,
    name: str,
    *,
    client: AuthenticatedClient,
    command: list[str],
    container: str | Unset = UNSET,
    stdin: bool | Unset = UNSET,
    stdout: bool | Unset = UNSET,
    stderr: bool | Unset = UNSET,
    tty: bool | Unset = UNSET,
) -> Response[Status | str]:
    """Run a command in a pod's container (admin only), as `kubectl exec`: a websocket with the subprotocol
    v5.channel.k8s.io (or v4), proxied to the node's agent. Channels: 0 stdin, 1 stdout, 2 stderr, 3 a
    Status when the command ends (reason NonZeroExitCode and the code in details.causes when not 0).
    Websockets only: any other request is 400

    Args:
        namespace (str):
        name (str):
        command (list[str]):
        container (str | Unset):
        stdin (bool | Unset):
        stdout (bool | Unset):
        stderr (bool | Unset):
        tty (bool | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Status | str]
    """

    kwargs = _get_kwargs(
        namespace=namespace,
        name=name,
        command=command,
        container=container,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        tty=tty,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    namespace: str,
    name: str,
    *,
    client: AuthenticatedClient,
    command: list[str],
    container: str | Unset = UNSET,
    stdin: bool | Unset = UNSET,
    stdout: bool | Unset = UNSET,
    stderr: bool | Unset = UNSET,
    tty: bool | Unset = UNSET,
) -> Status | str | None:
    """Run a command in a pod's container (admin only), as `kubectl exec`: a websocket with the subprotocol
    v5.channel.k8s.io (or v4), proxied to the node's agent. Channels: 0 stdin, 1 stdout, 2 stderr, 3 a
    Status when the command ends (reason NonZeroExitCode and the code in details.causes when not 0).
    Websockets only: any other request is 400

    Args:
        namespace (str):
        name (str):
        command (list[str]):
        container (str | Unset):
        stdin (bool | Unset):
        stdout (bool | Unset):
        stderr (bool | Unset):
        tty (bool | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Status | str
    """

    return (
        await asyncio_detailed(
            namespace=namespace,
            name=name,
            client=client,
            command=command,
            container=container,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            tty=tty,
        )
    ).parsed
