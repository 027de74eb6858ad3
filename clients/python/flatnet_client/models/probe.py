from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.http_get_action import HttpGetAction
    from ..models.tcp_socket_action import TcpSocketAction


T = TypeVar("T", bound="Probe")


@_attrs_define
class Probe:
    """A readiness probe: exactly one of `tcpSocket` or `httpGet`.

    Attributes:
        failure_threshold (int | None | Unset):
        http_get (HttpGetAction | None | Unset):
        initial_delay_seconds (int | None | Unset):
        period_seconds (int | None | Unset):
        success_threshold (int | None | Unset):
        tcp_socket (None | TcpSocketAction | Unset):
        timeout_seconds (int | None | Unset):
    """

    failure_threshold: int | None | Unset = UNSET
    http_get: HttpGetAction | None | Unset = UNSET
    initial_delay_seconds: int | None | Unset = UNSET
    period_seconds: int | None | Unset = UNSET
    success_threshold: int | None | Unset = UNSET
    tcp_socket: None | TcpSocketAction | Unset = UNSET
    timeout_seconds: int | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.http_get_action import HttpGetAction  # noqa: PLC0415
        from ..models.tcp_socket_action import TcpSocketAction  # noqa: PLC0415

        failure_threshold: int | None | Unset
        if isinstance(self.failure_threshold, Unset):
            failure_threshold = UNSET
        else:
            failure_threshold = self.failure_threshold

        http_get: dict[str, Any] | None | Unset
        if isinstance(self.http_get, Unset):
            http_get = UNSET
        elif isinstance(self.http_get, HttpGetAction):
            http_get = self.http_get.to_dict()
        else:
            http_get = self.http_get

        initial_delay_seconds: int | None | Unset
        if isinstance(self.initial_delay_seconds, Unset):
            initial_delay_seconds = UNSET
        else:
            initial_delay_seconds = self.initial_delay_seconds

        period_seconds: int | None | Unset
        if isinstance(self.period_seconds, Unset):
            period_seconds = UNSET
        else:
            period_seconds = self.period_seconds

        success_threshold: int | None | Unset
        if isinstance(self.success_threshold, Unset):
            success_threshold = UNSET
        else:
            success_threshold = self.success_threshold

        tcp_socket: dict[str, Any] | None | Unset
        if isinstance(self.tcp_socket, Unset):
            tcp_socket = UNSET
        elif isinstance(self.tcp_socket, TcpSocketAction):
            tcp_socket = self.tcp_socket.to_dict()
        else:
            tcp_socket = self.tcp_socket

        timeout_seconds: int | None | Unset
        if isinstance(self.timeout_seconds, Unset):
            timeout_seconds = UNSET
        else:
            timeout_seconds = self.timeout_seconds

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if failure_threshold is not UNSET:
            field_dict["failureThreshold"] = failure_threshold
        if http_get is not UNSET:
            field_dict["httpGet"] = http_get
        if initial_delay_seconds is not UNSET:
            field_dict["initialDelaySeconds"] = initial_delay_seconds
        if period_seconds is not UNSET:
            field_dict["periodSeconds"] = period_seconds
        if success_threshold is not UNSET:
            field_dict["successThreshold"] = success_threshold
        if tcp_socket is not UNSET:
            field_dict["tcpSocket"] = tcp_socket
        if timeout_seconds is not UNSET:
            field_dict["timeoutSeconds"] = timeout_seconds

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.http_get_action import HttpGetAction  # noqa: PLC0415
        from ..models.tcp_socket_action import TcpSocketAction  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_failure_threshold(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        failure_threshold = _parse_failure_threshold(d.pop("failureThreshold", UNSET))

        def _parse_http_get(data: object) -> HttpGetAction | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                http_get_type_1 = HttpGetAction.from_dict(data)

                return http_get_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(HttpGetAction | None | Unset, data)

        http_get = _parse_http_get(d.pop("httpGet", UNSET))

        def _parse_initial_delay_seconds(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        initial_delay_seconds = _parse_initial_delay_seconds(d.pop("initialDelaySeconds", UNSET))

        def _parse_period_seconds(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        period_seconds = _parse_period_seconds(d.pop("periodSeconds", UNSET))

        def _parse_success_threshold(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        success_threshold = _parse_success_threshold(d.pop("successThreshold", UNSET))

        def _parse_tcp_socket(data: object) -> None | TcpSocketAction | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                tcp_socket_type_1 = TcpSocketAction.from_dict(data)

                return tcp_socket_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | TcpSocketAction | Unset, data)

        tcp_socket = _parse_tcp_socket(d.pop("tcpSocket", UNSET))

        def _parse_timeout_seconds(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        timeout_seconds = _parse_timeout_seconds(d.pop("timeoutSeconds", UNSET))

        probe = cls(
            failure_threshold=failure_threshold,
            http_get=http_get,
            initial_delay_seconds=initial_delay_seconds,
            period_seconds=period_seconds,
            success_threshold=success_threshold,
            tcp_socket=tcp_socket,
            timeout_seconds=timeout_seconds,
        )

        return probe
